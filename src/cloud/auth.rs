//! Who the client calls as, the way the google provider decides it: an access token as given,
//! a service account key (the JWT-bearer grant at the key's `token_uri`), or Application
//! Default Credentials; then, on top, an impersonated service account whose tokens come from
//! IAM Credentials `generateAccessToken` (through any delegates). Without any of these the
//! local runtime is called with no token (its local owner).

use super::{CloudError, CloudResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The scopes the provider asks for when `scopes` is not set.
pub const DEFAULT_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];

/// Where tokens come from before any impersonation.
pub enum Source {
    /// No token: the local runtime's owner.
    None,
    /// Application Default Credentials, looked up on first use.
    Adc(tokio::sync::OnceCell<Arc<dyn gcp_auth::TokenProvider>>),
    /// `access_token` (the provider cannot renew it, neither can runform).
    Token(String),
    /// A service account key (`credentials`).
    Key(Arc<gcp_auth::CustomServiceAccount>),
}

/// The settings [`Auth::new`] takes (from the provider block and its environment variables).
#[derive(Clone, Default)]
pub struct AuthConfig {
    pub credentials: Option<String>,
    pub access_token: Option<String>,
    pub impersonate: Option<String>,
    pub delegates: Vec<String>,
    pub scopes: Vec<String>,
    /// No credentials and no token given: ADC on Google, nothing on an emulator.
    pub use_adc: bool,
}

/// Secrets stay out of debug output.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |o: &Option<String>| o.as_ref().map(|_| "(sensitive value)");
        f.debug_struct("AuthConfig")
            .field("credentials", &shown(&self.credentials))
            .field("access_token", &shown(&self.access_token))
            .field("impersonate", &self.impersonate)
            .field("delegates", &self.delegates)
            .field("scopes", &self.scopes)
            .field("use_adc", &self.use_adc)
            .finish()
    }
}

pub struct Auth {
    source: Source,
    impersonate: Option<(String, Vec<String>)>,
    scopes: Vec<String>,
    /// The impersonated account's token and when it expires.
    cached: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl Auth {
    pub fn new(cfg: &AuthConfig) -> CloudResult<Auth> {
        let source = if let Some(t) = &cfg.access_token {
            Source::Token(t.clone())
        } else if let Some(c) = &cfg.credentials {
            let json = if c.trim_start().starts_with('{') {
                c.clone()
            } else {
                std::fs::read_to_string(c)
                    .map_err(|e| CloudError::Auth(format!("credentials file {c}: {e}")))?
            };
            let key = gcp_auth::CustomServiceAccount::from_json(&json).map_err(|e| {
                CloudError::Auth(format!(
                    "credentials are not a usable service account key: {e}"
                ))
            })?;
            Source::Key(Arc::new(key))
        } else if cfg.use_adc {
            Source::Adc(tokio::sync::OnceCell::new())
        } else {
            Source::None
        };
        let scopes = if cfg.scopes.is_empty() {
            DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
        } else {
            cfg.scopes.clone()
        };
        Ok(Auth {
            source,
            impersonate: cfg
                .impersonate
                .clone()
                .map(|sa| (sa, cfg.delegates.clone())),
            scopes,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// Whether calls carry a token at all.
    pub fn is_none(&self) -> bool {
        matches!(self.source, Source::None) && self.impersonate.is_none()
    }

    /// The source credentials' token (None: call without one).
    async fn source_token(&self) -> CloudResult<Option<String>> {
        let scopes: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        let auth = |e: gcp_auth::Error| CloudError::Auth(e.to_string());
        Ok(match &self.source {
            Source::None => None,
            Source::Token(t) => Some(t.clone()),
            Source::Key(k) => {
                use gcp_auth::TokenProvider;
                Some(k.token(&scopes).await.map_err(auth)?.as_str().to_string())
            }
            Source::Adc(cell) => {
                let p = cell
                    .get_or_try_init(|| async { gcp_auth::provider().await })
                    .await
                    .map_err(auth)?;
                Some(p.token(&scopes).await.map_err(auth)?.as_str().to_string())
            }
        })
    }

    /// The bearer token for a call; `iam_credentials` is the IAM Credentials API's base URL
    /// (for impersonation).
    pub async fn token(
        &self,
        http: &reqwest::Client,
        iam_credentials: &str,
    ) -> CloudResult<Option<String>> {
        let Some((target, delegates)) = &self.impersonate else {
            return self.source_token().await;
        };
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = cached.as_ref() {
            if Instant::now() + Duration::from_secs(60) < *until {
                return Ok(Some(t.clone()));
            }
        }
        let source = self.source_token().await?;
        let (token, lifetime) = generate_access_token(
            http,
            iam_credentials,
            source,
            target,
            delegates,
            &self.scopes,
        )
        .await?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(Some(token))
    }
}

/// IAM Credentials `projects/-/serviceAccounts/SA:generateAccessToken`, as the source
/// credentials: the impersonated account's token and how long it lives.
async fn generate_access_token(
    http: &reqwest::Client,
    base: &str,
    source: Option<String>,
    target: &str,
    delegates: &[String],
    scopes: &[String],
) -> CloudResult<(String, Duration)> {
    let url = format!(
        "{}/v1/projects/-/serviceAccounts/{target}:generateAccessToken",
        base.trim_end_matches('/')
    );
    let body = serde_json::json!({
        "delegates": delegates.iter().map(|d| format!("projects/-/serviceAccounts/{d}")).collect::<Vec<_>>(),
        "scope": scopes,
        "lifetime": "3600s",
    });
    let mut req = http.post(&url).json(&body);
    if let Some(t) = source {
        req = req.bearer_auth(t);
    }
    let transport = |e| CloudError::Transport {
        url: url.clone(),
        source: e,
    };
    let resp = req.send().await.map_err(transport)?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(transport)?;
    if !(200..300).contains(&status) {
        let e: crate::api::ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
        return Err(CloudError::Auth(format!(
            "impersonating {target}: POST {url}: {status} {}: {}",
            e.error.status, e.error.message
        )));
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        access_token: String,
        #[serde(default)]
        expire_time: String,
    }
    let a: Answer = serde_json::from_slice(&bytes).map_err(|e| CloudError::Decode {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let lifetime = chrono::DateTime::parse_from_rfc3339(&a.expire_time)
        .ok()
        .and_then(|t| {
            (t.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .ok()
        })
        .unwrap_or(Duration::from_secs(3600));
    Ok((a.access_token, lifetime))
}
