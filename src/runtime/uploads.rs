//! Cloud Storage resumable upload sessions: started by `uploadType=resumable`, filled by
//! `PUT`s with `Content-Range`, finished into an object when the last byte arrives. A session
//! is a pair of files in the data dir (its request as JSON, its bytes so far), so it survives
//! a restart of the runtime as Google's sessions do.

use super::storage::Preconditions;
use super::{ApiError, ApiResult, Runtime};
use crate::api::Code;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// What a session was started with.
#[derive(Debug, Serialize, Deserialize)]
struct Session {
    bucket: String,
    name: String,
    content_type: String,
    /// The object resource the client sent (its metadata).
    metadata: Value,
    pre: Preconditions,
}

/// A `Content-Range` header of a session `PUT`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContentRange {
    /// The first and last byte this request carries (`None`: it carries none, `bytes */N`).
    pub bytes: Option<(u64, u64)>,
    /// The object's total size, when the client knows it.
    pub total: Option<u64>,
}

impl ContentRange {
    /// `bytes A-B/TOTAL`, `bytes A-B/*`, `bytes */TOTAL`, `bytes */*`.
    pub fn parse(h: &str) -> Option<ContentRange> {
        let rest = h.trim().strip_prefix("bytes")?.trim_start();
        let (range, total) = rest.split_once('/')?;
        let total = match total.trim() {
            "*" => None,
            t => Some(t.parse().ok()?),
        };
        let bytes = match range.trim() {
            "*" => None,
            r => {
                let (a, b) = r.split_once('-')?;
                let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
                (a <= b).then_some((a, b))?;
                Some((a, b))
            }
        };
        Some(ContentRange { bytes, total })
    }
}

/// Where a session stands after a request.
#[derive(Debug)]
pub enum Upload {
    /// Not finished: how many bytes are stored (answered 308 with `Range: bytes=0-(N-1)`).
    Incomplete(u64),
    /// Finished: the object.
    Done(Value),
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidArgument, msg)
}

impl Runtime {
    fn uploads_dir(&self) -> PathBuf {
        self.logs_dir
            .parent()
            .map(|p| p.join("uploads"))
            .unwrap_or_else(|| self.logs_dir.join("uploads"))
    }

    fn session_paths(&self, id: &str) -> ApiResult<(PathBuf, PathBuf)> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ApiError::new(
                Code::NotFound,
                format!("no upload session {id:?}"),
            ));
        }
        let dir = self.uploads_dir();
        Ok((
            dir.join(format!("{id}.json")),
            dir.join(format!("{id}.data")),
        ))
    }

    /// Starts a session for `metadata.name` (or `name`) in `bucket`; returns its id.
    pub fn start_upload(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        metadata: &Value,
        pre: Preconditions,
    ) -> ApiResult<String> {
        self.get_bucket(bucket)?;
        if name.is_empty() {
            return Err(bad("a resumable upload needs the object's name"));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (meta_path, data_path) = self.session_paths(&id)?;
        let io = |e: std::io::Error| ApiError::new(Code::Internal, e.to_string());
        std::fs::create_dir_all(self.uploads_dir()).map_err(io)?;
        let session = Session {
            bucket: bucket.into(),
            name: name.into(),
            content_type: content_type.into(),
            metadata: metadata.clone(),
            pre,
        };
        let text = serde_json::to_vec(&session).map_err(|e| bad(e.to_string()))?;
        for (path, bytes) in [(&meta_path, &text[..]), (&data_path, &[][..])] {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .and_then(|mut f| f.write_all(bytes))
                .map_err(io)?;
        }
        Ok(id)
    }

    /// Takes one `PUT` of session `id`: bytes already stored are skipped (a client resending
    /// after a lost answer), bytes past what is stored are refused with where to resume.
    pub fn upload_chunk(
        self: &std::sync::Arc<Self>,
        id: &str,
        range: ContentRange,
        data: &[u8],
    ) -> ApiResult<Upload> {
        let (meta_path, data_path) = self.session_paths(id)?;
        let gone = || ApiError::new(Code::NotFound, format!("no upload session {id:?}"));
        let session: Session = std::fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(gone)?;
        let io = |e: std::io::Error| ApiError::new(Code::Internal, e.to_string());
        let stored = std::fs::metadata(&data_path).map_err(|_| gone())?.len();
        if let Some((first, last)) = range.bytes {
            if last - first + 1 != data.len() as u64 {
                return Err(bad(format!(
                    "Content-Range says {} bytes, the request carries {}",
                    last - first + 1,
                    data.len()
                )));
            }
            if first > stored {
                // A gap: the client resumes from what is stored.
                return Ok(Upload::Incomplete(stored));
            }
            let skip = (stored - first) as usize;
            if skip < data.len() {
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&data_path)
                    .and_then(|mut f| f.write_all(&data[skip..]))
                    .map_err(io)?;
            }
        }
        let stored = std::fs::metadata(&data_path).map_err(io)?.len();
        match range.total {
            Some(total) if stored > total => Err(bad(format!(
                "the upload holds {stored} bytes, more than the {total} its Content-Range says"
            ))),
            Some(total) if stored == total => {
                let bytes = std::fs::read(&data_path).map_err(io)?;
                let obj = self.put_object_with(
                    &session.bucket,
                    &session.name,
                    &session.content_type,
                    &bytes,
                    Some(&session.metadata),
                    &session.pre,
                )?;
                let _ = std::fs::remove_file(&meta_path);
                let _ = std::fs::remove_file(&data_path);
                Ok(Upload::Done(obj))
            }
            _ => Ok(Upload::Incomplete(stored)),
        }
    }

    /// Ends session `id` without an object.
    pub fn cancel_upload(&self, id: &str) -> ApiResult<()> {
        let (meta_path, data_path) = self.session_paths(id)?;
        std::fs::remove_file(&meta_path)
            .map_err(|_| ApiError::new(Code::NotFound, format!("no upload session {id:?}")))?;
        let _ = std::fs::remove_file(&data_path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ContentRange;

    #[test]
    fn content_ranges() {
        let r = |bytes, total| ContentRange { bytes, total };
        assert_eq!(
            ContentRange::parse("bytes 0-9/20"),
            Some(r(Some((0, 9)), Some(20)))
        );
        assert_eq!(
            ContentRange::parse("bytes 10-19/*"),
            Some(r(Some((10, 19)), None))
        );
        assert_eq!(ContentRange::parse("bytes */20"), Some(r(None, Some(20))));
        assert_eq!(ContentRange::parse("bytes */*"), Some(r(None, None)));
        assert_eq!(ContentRange::parse("bytes 9-0/20"), None);
        assert_eq!(ContentRange::parse("items 0-9/20"), None);
    }
}
