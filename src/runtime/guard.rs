//! Who may talk to the local runtime at all. It runs commands (a job is any command), so a web
//! page in the user's browser must not reach it, and, when the user asks, neither may other
//! local users:
//! - `Host` must be the runtime's own loopback address (`127.0.0.1`, `localhost`, `[::1]`,
//!   with its port): a DNS-rebinding page sends its own host name;
//! - an `Origin` that is not the runtime's own is refused (a cross-site page), except on a
//!   bucket's objects when the bucket's own CORS configuration allows that origin;
//! - a body on a JSON method must be `application/json`, so that a browser cannot send one
//!   without a CORS preflight (which the runtime never grants);
//! - with a token configured (`runform local serve --token`), every call carries it
//!   (`X-Runform-Token` or `Authorization: Bearer`), or a token the runtime issued (a task's,
//!   from its metadata server).

use super::{ApiError, ApiResult, Runtime};
use crate::api::Code;
use axum::http::{HeaderMap, Method, Uri};

pub use crate::api::ext::TOKEN_HEADER;

/// Host names the runtime answers to (it binds loopback only), also with a Google region
/// in front (`us-central1-127.0.0.1`): gcloud derives a regional host from an endpoint
/// override, and reaches it through the runtime as its HTTP proxy. Such a name is not one a
/// web page can be served from (its last label is a number).
fn loopback_host(host: &str) -> bool {
    let plain = |h: &str| matches!(h, "127.0.0.1" | "localhost" | "[::1]" | "::1");
    plain(host) || regional(host).is_some_and(plain)
}

/// `REGION-HOST` → `HOST`, for a region name (`us-central1`, `europe-west4`).
fn regional(host: &str) -> Option<&str> {
    let mut parts = host.splitn(3, '-');
    let (area, rest) = (parts.next()?, parts.next()?);
    let tail = parts.next()?;
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_lowercase());
    let region_ok = !area.is_empty()
        && area.chars().all(|c| c.is_ascii_lowercase())
        && !digits.is_empty()
        && digits.len() < rest.len()
        && digits.chars().all(|c| c.is_ascii_digit());
    region_ok.then_some(tail)
}

/// Splits `host[:port]` (IPv6 in brackets).
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once(']') {
            return (
                &authority[..h.len() + 2],
                p.strip_prefix(':').filter(|p| !p.is_empty()),
            );
        }
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (authority, None),
    }
}

/// Is `authority` (a Host header's value) the runtime's own, at `port` when known?
pub fn own_authority(authority: &str, port: Option<u16>) -> bool {
    let (host, p) = split_host_port(authority.trim());
    let port_ok = match (port, p) {
        (Some(want), Some(got)) => got.parse::<u16>().ok() == Some(want),
        // Without a port the client means the default (80): not the runtime's.
        (Some(_), None) => false,
        (None, _) => true,
    };
    loopback_host(&host.to_ascii_lowercase()) && port_ok
}

/// Is `origin` a page served by the runtime itself?
fn own_origin(origin: &str, port: Option<u16>) -> bool {
    origin
        .strip_prefix("http://")
        .is_some_and(|authority| own_authority(authority, port))
}

/// Paths whose bodies are not JSON by design: uploads (media, multipart, resumable) and the
/// OAuth token endpoint (a form).
fn non_json_path(path: &str) -> bool {
    path.starts_with("/upload/") || path == "/token"
}

impl Runtime {
    /// The runtime's port, once it serves.
    fn own_port(&self) -> Option<u16> {
        let url = self.base_url.get()?;
        url.rsplit(':').next()?.parse().ok()
    }

    /// Checks a request before anything else reads it. `bucket_cors_allows` says whether the
    /// bucket the request addresses lets its `Origin` in (user-configured CORS).
    pub(crate) fn guard(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body_len: usize,
        bucket_cors_allows: bool,
    ) -> ApiResult<()> {
        let port = self.own_port();
        let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        if let Some(host) = header("host") {
            if !own_authority(host, port) {
                return Err(ApiError::new(Code::PermissionDenied,
                    format!("the local runtime answers only to its own loopback address, not Host {host:?}"),
                ));
            }
        }
        if let Some(origin) = header("origin") {
            if !own_origin(origin, port) && !bucket_cors_allows {
                return Err(ApiError::new(
                    Code::PermissionDenied,
                    format!("the local runtime refuses cross-origin requests (Origin {origin:?})"),
                ));
            }
        }
        let has_body = body_len > 0;
        let writes = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if writes && has_body && !non_json_path(uri.path()) {
            let ct = header("content-type").unwrap_or("");
            let media = ct.split(';').next().unwrap_or("").trim();
            if !media.eq_ignore_ascii_case("application/json") {
                return Err(ApiError::new(Code::InvalidArgument,
                    format!(
                        "the local runtime takes JSON request bodies only (Content-Type: application/json), not {:?}",
                        if ct.is_empty() { "none" } else { ct }
                    ),
                ));
            }
        }
        self.check_token(headers, uri.path())
    }

    /// With a token configured: the token, or a token the runtime issued.
    fn check_token(&self, headers: &HeaderMap, path: &str) -> ApiResult<()> {
        let Some(want) = self.cfg.token.as_deref() else {
            return Ok(());
        };
        let given = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        if given == Some(want) || bearer == Some(want) {
            return Ok(());
        }
        // The token endpoint cannot carry a token: with one configured, service accounts'
        // tokens come from generateAccessToken (called with the token) or a task's metadata.
        if path != "/token" && bearer.is_some_and(|b| self.issued_token(b)) {
            return Ok(());
        }
        Err(ApiError::new(
            Code::Unauthenticated,
            "this local runtime requires its token (runform local serve --token): send it as \
             `X-Runform-Token` or `Authorization: Bearer`; runform sends it by itself (from \
             .runform/local/token)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runtimes_own_authority_passes() {
        assert!(own_authority("127.0.0.1:8790", Some(8790)));
        assert!(own_authority("localhost:8790", Some(8790)));
        assert!(own_authority("LOCALHOST:8790", Some(8790)));
        assert!(own_authority("[::1]:8790", Some(8790)));
        assert!(!own_authority("127.0.0.1:8791", Some(8790)));
        assert!(!own_authority("evil.example:8790", Some(8790)));
        assert!(!own_authority("127.0.0.1", Some(8790)));
        assert!(!own_authority("127.0.0.1.evil.example:8790", Some(8790)));
        // gcloud's regional host for an endpoint override.
        assert!(own_authority("us-central1-127.0.0.1:8790", Some(8790)));
        assert!(own_authority("europe-west4-localhost:8790", Some(8790)));
        assert!(!own_authority("evil-127.0.0.1:8790", Some(8790)));
        assert!(!own_authority("us-central1-evil.example:8790", Some(8790)));
        assert!(own_origin("http://127.0.0.1:8790", Some(8790)));
        assert!(!own_origin("https://127.0.0.1:8790", Some(8790)));
        assert!(!own_origin("null", Some(8790)));
        assert!(!own_origin("http://evil.example", Some(8790)));
    }
}
