//! The one REST client. It talks to googleapis.com (with gcp_auth tokens) or to any base URL
//! without auth (the bundled local runtime, or another REST emulator). There is no second,
//! "local" code path: only the base URL and auth differ.

pub mod auth;
pub mod retry;

use crate::api::ext::{ImageMapping, LogEntry};
use crate::api::run::*;
use crate::api::{Api, ErrorBody, Operation, Policy};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where API calls go.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    /// The live Google APIs, authenticated through Application Default Credentials.
    Google,
    /// Any base URL, no auth (the local runtime or another emulator).
    Custom(String),
}

/// An error from an API, or from reaching it.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{method} {url}: {status} {code}: {message}")]
    Api {
        method: String,
        url: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("could not reach {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("{url} answered something that is not the expected JSON: {message}")]
    Decode { url: String, message: String },
    #[error("authentication failed: {0}\nhint: run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or use --local")]
    Auth(String),
    #[error("operation {name} failed: {message}")]
    Operation { name: String, message: String },
    #[error("timed out after {secs}s waiting for {what}")]
    Timeout { what: String, secs: u64 },
}

impl CloudError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CloudError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

pub type CloudResult<T> = Result<T, CloudError>;

/// A non-2xx answer as an error: Google's error body when there is one, else its text.
fn api_error(method: &reqwest::Method, url: String, status: u16, bytes: &[u8]) -> CloudError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(e) if !e.error.message.is_empty() || !e.error.status.is_empty() => {
            (e.error.status, e.error.message)
        }
        _ => (
            String::new(),
            String::from_utf8_lossy(bytes).chars().take(300).collect(),
        ),
    };
    CloudError::Api {
        method: method.to_string(),
        url,
        status,
        code,
        message,
    }
}

/// Each Google API's base URL (one URL for all of them on an emulator).
#[derive(Clone, Debug)]
struct Bases {
    run: String,
    scheduler: String,
    iam: String,
    iamcredentials: String,
    workflows: String,
    eventarc: String,
    storage: String,
    resourcemanager: String,
    compute: String,
    serviceusage: String,
    artifactregistry: String,
    logging: String,
    secretmanager: String,
}

impl Bases {
    fn get(&self, api: Api) -> &str {
        match api {
            Api::Run => &self.run,
            Api::Scheduler => &self.scheduler,
            Api::Iam => &self.iam,
            Api::IamCredentials => &self.iamcredentials,
            Api::Workflows => &self.workflows,
            Api::Eventarc => &self.eventarc,
            Api::Storage => &self.storage,
            Api::ResourceManager => &self.resourcemanager,
            Api::Compute => &self.compute,
            Api::ServiceUsage => &self.serviceusage,
            Api::ArtifactRegistry => &self.artifactregistry,
            Api::Logging => &self.logging,
            Api::SecretManager => &self.secretmanager,
        }
    }
    fn set(&mut self, api: Api, url: String) {
        let slot = match api {
            Api::Run => &mut self.run,
            Api::Scheduler => &mut self.scheduler,
            Api::Iam => &mut self.iam,
            Api::IamCredentials => &mut self.iamcredentials,
            Api::Workflows => &mut self.workflows,
            Api::Eventarc => &mut self.eventarc,
            Api::Storage => &mut self.storage,
            Api::ResourceManager => &mut self.resourcemanager,
            Api::Compute => &mut self.compute,
            Api::ServiceUsage => &mut self.serviceusage,
            Api::ArtifactRegistry => &mut self.artifactregistry,
            Api::Logging => &mut self.logging,
            Api::SecretManager => &mut self.secretmanager,
        };
        *slot = url;
    }
    fn google() -> Bases {
        let g = |api: &str| format!("https://{api}.googleapis.com");
        Bases {
            run: g("run"),
            scheduler: g("cloudscheduler"),
            iam: g("iam"),
            iamcredentials: g("iamcredentials"),
            workflows: g("workflows"),
            eventarc: g("eventarc"),
            storage: "https://storage.googleapis.com".to_string(),
            resourcemanager: g("cloudresourcemanager"),
            compute: g("compute"),
            serviceusage: g("serviceusage"),
            artifactregistry: g("artifactregistry"),
            logging: g("logging"),
            secretmanager: g("secretmanager"),
        }
    }
    fn custom(url: &str) -> Bases {
        let u = url.trim_end_matches('/').to_string();
        Bases {
            run: u.clone(),
            scheduler: u.clone(),
            iam: u.clone(),
            iamcredentials: u.clone(),
            workflows: u.clone(),
            eventarc: u.clone(),
            storage: u.clone(),
            resourcemanager: u.clone(),
            compute: u.clone(),
            serviceusage: u.clone(),
            artifactregistry: u.clone(),
            logging: u.clone(),
            secretmanager: u,
        }
    }
}

/// The REST client, cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Base URLs, who calls and how: set when the client is made, then by the provider block
    /// ([`Client::configure`]) once the configuration is read (clones share it).
    conn: Arc<std::sync::RwLock<Conn>>,
    calls: Arc<AtomicU64>,
    poll_initial: Duration,
    poll_max: Duration,
    /// How failed calls are retried.
    retry: retry::RetryPolicy,
    /// Quota cool-down and reachability, shared by clones.
    pressure: Arc<retry::Pressure>,
    pub endpoint: Endpoint,
}

struct Conn {
    bases: Bases,
    auth: Arc<auth::Auth>,
    /// Extra headers on every call (`X-Goog-User-Project`, `X-Goog-Request-Reason`).
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    /// The local runtime's own token (`runform local serve --token`), sent as
    /// `X-Runform-Token` so `Authorization` stays the provider's.
    runtime_token: Option<String>,
}

/// What the provider block says about calls (see [`crate::config::Provider`]).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub auth: auth::AuthConfig,
    /// API → base URL (`<service>_custom_endpoint`); used only when calling Google.
    pub endpoints: std::collections::BTreeMap<Api, String>,
    /// Sent as `X-Goog-User-Project`.
    pub user_project: Option<String>,
    pub request_reason: Option<String>,
    pub request_timeout: Option<Duration>,
}

impl Client {
    /// A client for `endpoint`. For Google, Application Default Credentials are looked up on
    /// the first call (unless the provider block names other credentials).
    pub async fn new(endpoint: Endpoint) -> CloudResult<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("runform/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| CloudError::Transport {
                url: String::new(),
                source: e,
            })?;
        let google = endpoint == Endpoint::Google;
        let (bases, poll_initial, poll_max) = match &endpoint {
            Endpoint::Google => (
                Bases::google(),
                Duration::from_millis(500),
                Duration::from_secs(10),
            ),
            Endpoint::Custom(url) => (
                Bases::custom(url),
                Duration::from_millis(20),
                Duration::from_millis(500),
            ),
        };
        let auth = auth::Auth::new(&auth::AuthConfig {
            use_adc: google,
            ..Default::default()
        })?;
        Ok(Client {
            http,
            conn: Arc::new(std::sync::RwLock::new(Conn {
                bases,
                auth: Arc::new(auth),
                headers: Vec::new(),
                runtime_token: None,
                timeout: None,
            })),
            calls: Arc::new(AtomicU64::new(0)),
            poll_initial,
            poll_max,
            retry: if google {
                retry::RetryPolicy::GOOGLE
            } else {
                retry::RetryPolicy::LOCAL
            },
            pressure: Arc::default(),
            endpoint,
        })
    }

    /// Did calls stop reaching the endpoint (connections failing after retries)? An apply
    /// then starts no more actions.
    pub fn unreachable(&self) -> bool {
        self.pressure.unreachable()
    }

    /// Applies the provider block's settings: who to call as (credentials, access token,
    /// impersonation; on the local runtime too), custom endpoints (when calling Google: an
    /// explicit `--local` or `--endpoint` wins), the user project, request reason and timeout.
    pub fn configure(&self, s: &Settings) -> CloudResult<()> {
        let auth = if s.auth.credentials.is_some()
            || s.auth.access_token.is_some()
            || s.auth.impersonate.is_some()
            || !s.auth.scopes.is_empty()
        {
            Some(Arc::new(auth::Auth::new(&auth::AuthConfig {
                use_adc: self.endpoint == Endpoint::Google,
                ..s.auth.clone()
            })?))
        } else {
            None
        };
        let mut conn = self.conn.write().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = auth {
            conn.auth = a;
        }
        if self.endpoint == Endpoint::Google {
            for (api, url) in &s.endpoints {
                conn.bases.set(*api, url.clone());
            }
        }
        conn.headers.clear();
        if let Some(p) = &s.user_project {
            conn.headers.push(("x-goog-user-project".into(), p.clone()));
        }
        if let Some(r) = &s.request_reason {
            conn.headers
                .push(("x-goog-request-reason".into(), r.clone()));
        }
        conn.timeout = s.request_timeout;
        Ok(())
    }

    /// Sends `token` to the local runtime with every call (it requires one).
    pub fn set_runtime_token(&self, token: Option<String>) {
        self.conn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .runtime_token = token;
    }

    /// The base URL of one API.
    fn base(&self, api: Api) -> String {
        self.conn
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .bases
            .get(api)
            .to_string()
    }

    /// How many API calls this client (and its clones) made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn base_url(&self) -> String {
        self.base(Api::Run)
    }

    pub fn is_local(&self) -> bool {
        matches!(self.endpoint, Endpoint::Custom(_))
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> CloudResult<T> {
        self.send_to(&self.base(Api::Run), method, path, query, body)
            .await
    }

    /// One call to `base`/`path` (each Google API has its own host).
    async fn send_to<B: Serialize, T: DeserializeOwned>(
        &self,
        base: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> CloudResult<T> {
        let url = format!("{}/{}", base, path.trim_start_matches('/'));
        let (status, bytes) = self
            .call(&url, || {
                let req = self.http.request(method.clone(), &url).query(query);
                match body {
                    Some(b) => req.json(b),
                    None => req,
                }
            })
            .await?;
        if (200..300).contains(&status) {
            // Only a deletion (Cloud Storage's 204) answers nothing: anywhere else an empty
            // answer would read as an empty object (an empty list: every job gone).
            let text = if bytes.is_empty() && (status == 204 || method == Method::DELETE) {
                &b"{}"[..]
            } else {
                &bytes[..]
            };
            return serde_json::from_slice(text).map_err(|e| CloudError::Decode {
                url: format!("{method} {url}"),
                message: if bytes.is_empty() {
                    format!("an empty body (HTTP {status}) where JSON was expected")
                } else {
                    e.to_string()
                },
            });
        }
        Err(api_error(&method, url, status, &bytes))
    }

    /// Sends a request (built afresh for each attempt) and retries it as [`retry`] says.
    /// Returns the last answer: a success, or an error that is not worth retrying (or the
    /// last retryable one once the budget is spent).
    async fn call(
        &self,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> CloudResult<(u16, Vec<u8>)> {
        let policy = self.retry;
        // Retries end with the client's budget, or sooner with the action's `timeouts`.
        let mut give_up_at = tokio::time::Instant::now() + policy.budget;
        if let Some(d) = retry::deadline() {
            give_up_at = give_up_at.min(d);
        }
        let once_only = retry::is_once_only();
        let mut attempt = 0u32;
        let mut connect_failures = 0u32;
        loop {
            self.pressure.wait_turn().await;
            let out_of_budget = |wait: Duration| tokio::time::Instant::now() + wait > give_up_at;
            let answer = {
                let _in_flight = self.pressure.enter().await;
                self.exchange(build(), url).await
            };
            match answer {
                Ok((status, after, bytes)) => {
                    self.pressure.mark_reachable();
                    if status == 429 {
                        // Quota: slow every call down and let fewer in flight, not only
                        // this one.
                        self.pressure.quota_exceeded();
                    } else {
                        self.pressure.answered();
                    }
                    if once_only || !retry::retryable(status, &bytes) {
                        return Ok((status, bytes));
                    }
                    let wait = retry::retry_after(after.as_deref())
                        .unwrap_or_else(|| policy.backoff(attempt));
                    if status == 429 {
                        self.pressure.slow_down(wait.max(policy.backoff(attempt)));
                    }
                    if out_of_budget(wait) {
                        return Ok((status, bytes));
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(CloudError::Transport { url: u, source }) => {
                    // Not sent at all when it could not connect: safe to repeat any call.
                    let never_sent = source.is_connect();
                    connect_failures += u32::from(never_sent);
                    if (once_only && !never_sent) || connect_failures >= policy.connect_attempts {
                        if connect_failures >= policy.connect_attempts {
                            self.pressure.mark_unreachable();
                        }
                        return Err(CloudError::Transport { url: u, source });
                    }
                    let wait = policy.backoff(attempt);
                    if out_of_budget(wait) {
                        return Err(CloudError::Transport { url: u, source });
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    /// GET that answers `None` for 404.
    async fn get_opt<T: DeserializeOwned>(&self, base: &str, path: &str) -> CloudResult<Option<T>> {
        match self
            .send_to::<(), T>(base, Method::GET, path, &[], None)
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// DELETE that treats 404 (already gone) as done.
    async fn delete_quiet(&self, base: &str, path: &str) -> CloudResult<()> {
        match self
            .send_to::<(), serde_json::Value>(base, Method::DELETE, path, &[], None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> CloudResult<T> {
        self.send::<(), T>(Method::GET, path, query, None).await
    }

    /// Polls an operation until it is done; returns its response, or its error as
    /// [`CloudError::Operation`].
    pub async fn wait_operation(
        &self,
        op: Operation,
        timeout: Duration,
    ) -> CloudResult<serde_json::Value> {
        self.wait_operation_on(&self.base(Api::Run), "v2", op, timeout)
            .await
    }

    /// Polls an operation of the API at `base` (`version` is its path prefix).
    async fn wait_operation_on(
        &self,
        base: &str,
        version: &str,
        mut op: Operation,
        timeout: Duration,
    ) -> CloudResult<serde_json::Value> {
        let start = tokio::time::Instant::now();
        let mut delay = self.poll_initial;
        while !op.done {
            if start.elapsed() > timeout {
                return Err(CloudError::Timeout {
                    what: format!("operation {}", op.name),
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay.mul_f32(1.5)).min(self.poll_max);
            op = self
                .send_to::<(), _>(
                    base,
                    Method::GET,
                    &format!("{version}/{}", op.name),
                    &[],
                    None,
                )
                .await?;
        }
        if let Some(e) = op.error {
            return Err(CloudError::Operation {
                name: op.name,
                message: e.message,
            });
        }
        Ok(op.response.unwrap_or_default())
    }

    /// Every job in one project and location, page by page.
    pub async fn list_jobs(
        &self,
        project: &str,
        location: &str,
        page_size: usize,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        let path = format!("v2/projects/{project}/locations/{location}/jobs");
        self.list_all(&self.base(Api::Run), &path, page_size).await
    }

    /// Cloud Scheduler jobs in one location (pages of at most 500, the API's maximum).
    pub async fn list_scheduler_jobs(
        &self,
        project: &str,
        location: &str,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        let path = format!("v1/projects/{project}/locations/{location}/jobs");
        self.list_all(&self.base(Api::Scheduler), &path, 500).await
    }

    pub async fn insert_bucket(
        &self,
        project: &str,
        body: &serde_json::Value,
    ) -> CloudResult<serde_json::Value> {
        self.send_to(
            &self.base(Api::Storage),
            Method::POST,
            "storage/v1/b",
            &[("project", project.to_string())],
            Some(body),
        )
        .await
    }

    pub async fn patch_bucket(
        &self,
        name: &str,
        body: &serde_json::Value,
    ) -> CloudResult<serde_json::Value> {
        self.send_to(
            &self.base(Api::Storage),
            Method::PATCH,
            &format!("storage/v1/b/{name}"),
            &[],
            Some(body),
        )
        .await
    }

    pub async fn get_bucket(&self, name: &str) -> CloudResult<Option<serde_json::Value>> {
        self.get_opt(&self.base(Api::Storage), &format!("storage/v1/b/{name}"))
            .await
    }

    /// Deletes a bucket; with `force`, its objects first (as `force_destroy` does).
    pub async fn delete_bucket(&self, name: &str, force: bool) -> CloudResult<()> {
        if force {
            let list: serde_json::Value = self
                .send_to::<(), _>(
                    &self.base(Api::Storage),
                    Method::GET,
                    &format!("storage/v1/b/{name}/o"),
                    &[],
                    None,
                )
                .await?;
            for o in list["items"].as_array().into_iter().flatten() {
                let obj = o["name"].as_str().unwrap_or("");
                let enc =
                    percent_encoding::utf8_percent_encode(obj, percent_encoding::NON_ALPHANUMERIC);
                self.delete_quiet(
                    &self.base(Api::Storage),
                    &format!("storage/v1/b/{name}/o/{enc}"),
                )
                .await?;
            }
        }
        self.delete_quiet(&self.base(Api::Storage), &format!("storage/v1/b/{name}"))
            .await
    }

    /// Eventarc triggers in one location.
    pub async fn list_triggers(
        &self,
        project: &str,
        location: &str,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        let path = format!("v1/projects/{project}/locations/{location}/triggers");
        self.list_all(&self.base(Api::Eventarc), &path, 500).await
    }

    pub async fn get_trigger(&self, name: &str) -> CloudResult<Option<serde_json::Value>> {
        self.get_opt(&self.base(Api::Eventarc), &format!("v1/{name}"))
            .await
    }

    /// Creates a trigger and waits for the operation; returns the trigger.
    pub async fn create_trigger(
        &self,
        parent: &str,
        id: &str,
        t: &serde_json::Value,
        timeout: Duration,
    ) -> CloudResult<serde_json::Value> {
        let base = &self.base(Api::Eventarc);
        let op: Operation = self
            .send_to(
                base,
                Method::POST,
                &format!("v1/{parent}/triggers"),
                &[("triggerId", id.to_string())],
                Some(t),
            )
            .await?;
        self.wait_operation_on(base, "v1", op, timeout).await
    }

    pub async fn patch_trigger(
        &self,
        name: &str,
        t: &serde_json::Value,
        mask: &[&str],
        timeout: Duration,
    ) -> CloudResult<serde_json::Value> {
        let base = &self.base(Api::Eventarc);
        let op: Operation = self
            .send_to(
                base,
                Method::PATCH,
                &format!("v1/{name}"),
                &[("updateMask", mask.join(","))],
                Some(t),
            )
            .await?;
        self.wait_operation_on(base, "v1", op, timeout).await
    }

    pub async fn delete_trigger(&self, name: &str, timeout: Duration) -> CloudResult<()> {
        let base = &self.base(Api::Eventarc);
        match self
            .send_to::<(), Operation>(base, Method::DELETE, &format!("v1/{name}"), &[], None)
            .await
        {
            Ok(op) => self
                .wait_operation_on(base, "v1", op, timeout)
                .await
                .map(|_| ()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Workflows in one location.
    pub async fn list_workflows(
        &self,
        project: &str,
        location: &str,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        let path = format!("v1/projects/{project}/locations/{location}/workflows");
        self.list_all(&self.base(Api::Workflows), &path, 500).await
    }

    /// Creates a workflow and waits for the operation; returns the workflow.
    pub async fn create_workflow(
        &self,
        parent: &str,
        id: &str,
        w: &crate::api::workflows::Workflow,
        timeout: Duration,
    ) -> CloudResult<crate::api::workflows::Workflow> {
        let op: Operation = self
            .send_to(
                &self.base(Api::Workflows),
                Method::POST,
                &format!("v1/{parent}/workflows"),
                &[("workflowId", id.to_string())],
                Some(w),
            )
            .await?;
        let base = self.base(Api::Workflows);
        let v = self.wait_operation_on(&base, "v1", op, timeout).await?;
        from_any(&v).map_err(|e| CloudError::Decode {
            url: base,
            message: e.to_string(),
        })
    }

    /// PATCH with a mask of wire field names; waits for the operation.
    pub async fn patch_workflow(
        &self,
        name: &str,
        w: &crate::api::workflows::Workflow,
        mask: &[&str],
        timeout: Duration,
    ) -> CloudResult<crate::api::workflows::Workflow> {
        let op: Operation = self
            .send_to(
                &self.base(Api::Workflows),
                Method::PATCH,
                &format!("v1/{name}"),
                &[("updateMask", mask.join(","))],
                Some(w),
            )
            .await?;
        let base = self.base(Api::Workflows);
        let v = self.wait_operation_on(&base, "v1", op, timeout).await?;
        from_any(&v).map_err(|e| CloudError::Decode {
            url: base,
            message: e.to_string(),
        })
    }

    pub async fn delete_workflow(&self, name: &str, timeout: Duration) -> CloudResult<()> {
        match self
            .send_to::<(), Operation>(
                &self.base(Api::Workflows),
                Method::DELETE,
                &format!("v1/{name}"),
                &[],
                None,
            )
            .await
        {
            Ok(op) => {
                let base = self.base(Api::Workflows);
                self.wait_operation_on(&base, "v1", op, timeout)
                    .await
                    .map(|_| ())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Service accounts of a project (IAM v1).
    pub async fn list_service_accounts(
        &self,
        project: &str,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        let path = format!("v1/projects/{project}/serviceAccounts");
        self.list_all(&self.base(Api::Iam), &path, 100).await
    }

    pub async fn create_service_account(
        &self,
        project: &str,
        req: &crate::api::iam_admin::CreateServiceAccountRequest,
    ) -> CloudResult<crate::api::iam_admin::ServiceAccount> {
        self.send_to(
            &self.base(Api::Iam),
            Method::POST,
            &format!("v1/projects/{project}/serviceAccounts"),
            &[],
            Some(req),
        )
        .await
    }

    pub async fn get_service_account(
        &self,
        name: &str,
    ) -> CloudResult<Option<crate::api::iam_admin::ServiceAccount>> {
        self.get_opt(&self.base(Api::Iam), &format!("v1/{name}"))
            .await
    }

    pub async fn patch_service_account(
        &self,
        name: &str,
        req: &crate::api::iam_admin::PatchServiceAccountRequest,
    ) -> CloudResult<crate::api::iam_admin::ServiceAccount> {
        self.send_to(
            &self.base(Api::Iam),
            Method::PATCH,
            &format!("v1/{name}"),
            &[],
            Some(req),
        )
        .await
    }

    /// `:disable` or `:enable`.
    pub async fn service_account_verb(&self, name: &str, verb: &str) -> CloudResult<()> {
        self.send_to::<_, serde_json::Value>(
            &self.base(Api::Iam),
            Method::POST,
            &format!("v1/{name}:{verb}"),
            &[],
            Some(&serde_json::json!({})),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_service_account(&self, name: &str) -> CloudResult<()> {
        self.delete_quiet(&self.base(Api::Iam), &format!("v1/{name}"))
            .await
    }

    /// Follows `nextPageToken` through a `{jobs[] | accounts[], nextPageToken}` list. Each job stays JSON
    /// text until the planner reads it: a 10,000-job refresh then costs megabytes, not a
    /// tree of small allocations per job.
    async fn list_all(
        &self,
        base: &str,
        path: &str,
        page_size: usize,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(
                default,
                alias = "accounts",
                alias = "workflows",
                alias = "triggers",
                alias = "repositories",
                alias = "secrets"
            )]
            jobs: Vec<Box<serde_json::value::RawValue>>,
            #[serde(default)]
            next_page_token: String,
        }
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut q = vec![("pageSize", page_size.to_string())];
            if !token.is_empty() {
                q.push(("pageToken", token.clone()));
            }
            let page: Page = self
                .send_to::<(), _>(base, Method::GET, path, &q, None)
                .await?;
            out.extend(page.jobs);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            token = page.next_page_token;
        }
    }

    pub async fn create_scheduler_job(
        &self,
        parent: &str,
        job: &crate::api::scheduler::SchedulerJob,
    ) -> CloudResult<crate::api::scheduler::SchedulerJob> {
        self.send_to(
            &self.base(Api::Scheduler),
            Method::POST,
            &format!("v1/{parent}/jobs"),
            &[],
            Some(job),
        )
        .await
    }

    pub async fn get_scheduler_job(
        &self,
        name: &str,
    ) -> CloudResult<Option<crate::api::scheduler::SchedulerJob>> {
        self.get_opt(&self.base(Api::Scheduler), &format!("v1/{name}"))
            .await
    }

    /// PATCH with an update mask of wire field paths.
    pub async fn patch_scheduler_job(
        &self,
        name: &str,
        job: &crate::api::scheduler::SchedulerJob,
        mask: &[&str],
    ) -> CloudResult<crate::api::scheduler::SchedulerJob> {
        self.send_to(
            &self.base(Api::Scheduler),
            Method::PATCH,
            &format!("v1/{name}"),
            &[("updateMask", mask.join(","))],
            Some(job),
        )
        .await
    }

    pub async fn delete_scheduler_job(&self, name: &str) -> CloudResult<()> {
        self.delete_quiet(&self.base(Api::Scheduler), &format!("v1/{name}"))
            .await
    }

    /// `:pause`, `:resume` or `:run`.
    pub async fn scheduler_verb(
        &self,
        name: &str,
        verb: &str,
    ) -> CloudResult<crate::api::scheduler::SchedulerJob> {
        self.send_to(
            &self.base(Api::Scheduler),
            Method::POST,
            &format!("v1/{name}:{verb}"),
            &[],
            Some(&serde_json::json!({})),
        )
        .await
    }

    pub async fn get_job(&self, name: &str) -> CloudResult<Option<Job>> {
        self.get_opt(&self.base(Api::Run), &format!("v2/{name}"))
            .await
    }

    /// Creates a job and waits for the operation (which, with `runExecutionToken`, includes
    /// the execution).
    pub async fn create_job(
        &self,
        parent: &str,
        job_id: &str,
        job: &Job,
        timeout: Duration,
    ) -> CloudResult<Job> {
        let op: Operation = self
            .send(
                Method::POST,
                &format!("v2/{parent}/jobs"),
                &[("jobId", job_id.to_string())],
                Some(job),
            )
            .await?;
        let resp = self.wait_operation(op, timeout).await?;
        from_any(&resp).map_err(|e| CloudError::Decode {
            url: parent.into(),
            message: e.to_string(),
        })
    }

    pub async fn update_job(&self, job: &Job, timeout: Duration) -> CloudResult<Job> {
        let mut body = job.clone();
        let name = std::mem::take(&mut body.name);
        let op: Operation = self
            .send(Method::PATCH, &format!("v2/{name}"), &[], Some(&body))
            .await?;
        let resp = self.wait_operation(op, timeout).await?;
        from_any(&resp).map_err(|e| CloudError::Decode {
            url: name,
            message: e.to_string(),
        })
    }

    /// Deletes a job; a job that is already gone counts as deleted.
    pub async fn delete_job(&self, name: &str, timeout: Duration) -> CloudResult<()> {
        match self
            .send::<(), Operation>(Method::DELETE, &format!("v2/{name}"), &[], None)
            .await
        {
            Ok(op) => self.wait_operation(op, timeout).await.map(|_| ()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Starts an execution; returns the operation (its metadata names the execution). Never
    /// repeated once it may have reached the server: a second run is a second execution.
    pub async fn run_job(&self, name: &str, req: &RunJobRequest) -> CloudResult<Operation> {
        retry::once_only(self.send(Method::POST, &format!("v2/{name}:run"), &[], Some(req))).await
    }

    pub async fn get_execution(&self, name: &str) -> CloudResult<Execution> {
        self.get(&format!("v2/{name}"), &[]).await
    }

    pub async fn list_executions(
        &self,
        job: &str,
        page_size: usize,
    ) -> CloudResult<Vec<Execution>> {
        let page: ListExecutionsResponse = self
            .get(
                &format!("v2/{job}/executions"),
                &[("pageSize", page_size.to_string())],
            )
            .await?;
        Ok(page.executions)
    }

    pub async fn list_tasks(&self, exec: &str) -> CloudResult<Vec<Task>> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut q = vec![("pageSize", "1000".to_string())];
            if !token.is_empty() {
                q.push(("pageToken", token.clone()));
            }
            let page: ListTasksResponse = self.get(&format!("v2/{exec}/tasks"), &q).await?;
            out.extend(page.tasks);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            token = page.next_page_token;
        }
    }

    pub async fn cancel_execution(&self, name: &str) -> CloudResult<Operation> {
        self.send(
            Method::POST,
            &format!("v2/{name}:cancel"),
            &[],
            Some(&serde_json::json!({})),
        )
        .await
    }

    pub async fn get_iam_policy(&self, resource: &str) -> CloudResult<Policy> {
        if is_secret(resource) {
            return self
                .send_to(
                    &self.base(Api::SecretManager),
                    Method::GET,
                    &format!("v1/{resource}:getIamPolicy"),
                    &[("options.requestedPolicyVersion", "3".to_string())],
                    None::<&()>,
                )
                .await;
        }
        if crate::api::iam::is_project(resource) {
            // Resource Manager v1: POST projects/P:getIamPolicy.
            return self
                .send_to(
                    &self.base(Api::ResourceManager),
                    Method::POST,
                    &format!("v1/{resource}:getIamPolicy"),
                    &[],
                    Some(&serde_json::json!({ "options": { "requestedPolicyVersion": 3 } })),
                )
                .await;
        }
        self.get(
            &format!("v2/{resource}:getIamPolicy"),
            &[("options.requestedPolicyVersion", "3".into())],
        )
        .await
    }

    /// Replaces the policy; a stale etag gets 409 ABORTED (the caller re-reads and retries).
    pub async fn set_iam_policy(&self, resource: &str, policy: &Policy) -> CloudResult<Policy> {
        if is_secret(resource) {
            return self
                .send_to(
                    &self.base(Api::SecretManager),
                    Method::POST,
                    &format!("v1/{resource}:setIamPolicy"),
                    &[],
                    Some(&serde_json::json!({ "policy": policy })),
                )
                .await;
        }
        if crate::api::iam::is_project(resource) {
            return self
                .send_to(
                    &self.base(Api::ResourceManager),
                    Method::POST,
                    &format!("v1/{resource}:setIamPolicy"),
                    &[],
                    Some(&serde_json::json!({ "policy": policy })),
                )
                .await;
        }
        self.send(
            Method::POST,
            &format!("v2/{resource}:setIamPolicy"),
            &[],
            Some(&serde_json::json!({ "policy": policy })),
        )
        .await
    }

    // ---- Secret Manager v1 --------------------------------------------------------------

    pub async fn create_secret(
        &self,
        project: &str,
        id: &str,
        body: &serde_json::Value,
    ) -> CloudResult<serde_json::Value> {
        self.send_to(
            &self.base(Api::SecretManager),
            Method::POST,
            &format!("v1/projects/{project}/secrets"),
            &[("secretId", id.to_string())],
            Some(body),
        )
        .await
    }

    pub async fn get_secret(&self, name: &str) -> CloudResult<Option<serde_json::Value>> {
        self.get_opt(&self.base(Api::SecretManager), &format!("v1/{name}"))
            .await
    }

    pub async fn list_secrets(
        &self,
        project: &str,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        self.list_all(
            &self.base(Api::SecretManager),
            &format!("v1/projects/{project}/secrets"),
            250,
        )
        .await
    }

    pub async fn patch_secret(
        &self,
        name: &str,
        body: &serde_json::Value,
        mask: &str,
    ) -> CloudResult<serde_json::Value> {
        self.send_to(
            &self.base(Api::SecretManager),
            Method::PATCH,
            &format!("v1/{name}"),
            &[("updateMask", mask.to_string())],
            Some(body),
        )
        .await
    }

    pub async fn delete_secret(&self, name: &str) -> CloudResult<()> {
        self.delete_quiet(&self.base(Api::SecretManager), &format!("v1/{name}"))
            .await
    }

    /// `:addVersion` with the payload's bytes (base64 on the wire).
    pub async fn add_secret_version(
        &self,
        secret: &str,
        data: &[u8],
    ) -> CloudResult<serde_json::Value> {
        use base64::Engine;
        let body = serde_json::json!({"payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(data),
        }});
        self.send_to(
            &self.base(Api::SecretManager),
            Method::POST,
            &format!("v1/{secret}:addVersion"),
            &[],
            Some(&body),
        )
        .await
    }

    pub async fn get_secret_version(&self, name: &str) -> CloudResult<Option<serde_json::Value>> {
        self.get_opt(&self.base(Api::SecretManager), &format!("v1/{name}"))
            .await
    }

    /// `:access`: the version's payload bytes.
    pub async fn access_secret_version(&self, name: &str) -> CloudResult<Vec<u8>> {
        use base64::Engine;
        let v: serde_json::Value = self
            .send_to::<(), _>(
                &self.base(Api::SecretManager),
                Method::GET,
                &format!("v1/{name}:access"),
                &[],
                None,
            )
            .await?;
        Ok(base64::engine::general_purpose::STANDARD
            .decode(v["payload"]["data"].as_str().unwrap_or(""))
            .unwrap_or_default())
    }

    /// `:enable`, `:disable` or `:destroy` on a version.
    pub async fn secret_version_verb(
        &self,
        name: &str,
        verb: &str,
    ) -> CloudResult<serde_json::Value> {
        self.send_to(
            &self.base(Api::SecretManager),
            Method::POST,
            &format!("v1/{name}:{verb}"),
            &[],
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// Task logs, read from Cloud Logging (`entries:list`) on Google and on the local runtime
    /// alike: the lines of execution `exec` (of one task when `task` is given), in the order
    /// each attempt wrote them, tasks and attempts in turn.
    pub async fn logs(&self, exec: &str, task: Option<i32>) -> CloudResult<Vec<LogEntry>> {
        let (project, location) = crate::api::run::project_location(exec).unwrap_or(("", ""));
        let job = exec
            .split("/jobs/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        let short = exec.rsplit('/').next().unwrap_or("");
        let mut filter = format!(
            "resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"{job}\" AND resource.labels.location=\"{location}\" AND labels.\"run.googleapis.com/execution_name\"=\"{short}\""
        );
        if let Some(t) = task {
            filter.push_str(&format!(
                " AND labels.\"run.googleapis.com/task_index\"=\"{t}\""
            ));
        }
        let base = self.base(Api::Logging);
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut req = serde_json::json!({
                "resourceNames": [format!("projects/{project}")],
                "filter": filter, "orderBy": "timestamp asc", "pageSize": 1000,
            });
            if !token.is_empty() {
                req["pageToken"] = serde_json::json!(token);
            }
            let page: serde_json::Value = self
                .send_to(&base, Method::POST, "v2/entries:list", &[], Some(&req))
                .await?;
            out.extend(
                page["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(line_of_entry),
            );
            token = page["nextPageToken"].as_str().unwrap_or("").to_string();
            if token.is_empty() {
                break;
            }
        }
        // Stable: by task and attempt, each attempt's lines as written.
        out.sort_by_key(|e| (e.task, e.attempt));
        Ok(out)
    }

    /// What the event of an object's upload set off on a local runtime: deliveries, workflow
    /// executions, job executions (see `Runtime::started_by_event`).
    pub async fn started_by_upload(
        &self,
        bucket: &str,
        object: &str,
        generation: &str,
    ) -> CloudResult<serde_json::Value> {
        self.get(
            "runform/v1/events/started",
            &[
                ("bucket", bucket.to_string()),
                ("object", object.to_string()),
                ("generation", generation.to_string()),
            ],
        )
        .await
    }

    /// A local runtime's record of a scheduler job's attempts, oldest first.
    pub async fn scheduler_attempts(&self, name: &str) -> CloudResult<Vec<serde_json::Value>> {
        let r: serde_json::Value = self
            .get(
                "runform/v1/scheduler/attempts",
                &[("job", name.to_string())],
            )
            .await?;
        Ok(r["attempts"].as_array().cloned().unwrap_or_default())
    }

    pub async fn register_image(&self, m: &ImageMapping) -> CloudResult<()> {
        let _: serde_json::Value = self
            .send(Method::POST, "runform/v1/images", &[], Some(m))
            .await?;
        Ok(())
    }

    /// Asks a local runtime which of `containers` (API JSON) it cannot run, and why.
    pub async fn check_containers(
        &self,
        containers: &[serde_json::Value],
    ) -> CloudResult<Vec<Option<String>>> {
        #[derive(serde::Deserialize)]
        struct Resp {
            #[serde(default)]
            problems: Vec<Option<String>>,
        }
        let r: Resp = self
            .send(
                Method::POST,
                "runform/v1/containers:check",
                &[],
                Some(&serde_json::json!({ "containers": containers })),
            )
            .await?;
        Ok(r.problems)
    }

    /// Uploads an object (Cloud Storage JSON API, media upload); returns its JSON.
    /// Sends one request (counted, with the bearer token when authenticated) and reads the
    /// answer: (HTTP status, body).
    async fn exchange(
        &self,
        mut req: reqwest::RequestBuilder,
        url: &str,
    ) -> CloudResult<(u16, Option<String>, Vec<u8>)> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (auth, headers, timeout, iam_credentials, runtime_token) = {
            let c = self.conn.read().unwrap_or_else(|e| e.into_inner());
            (
                c.auth.clone(),
                c.headers.clone(),
                c.timeout,
                c.bases.get(Api::IamCredentials).to_string(),
                c.runtime_token.clone(),
            )
        };
        if let Some(t) = runtime_token {
            req = req.header(crate::api::ext::TOKEN_HEADER, t);
        }
        if let Some(tok) = auth.token(&self.http, &iam_credentials).await? {
            req = req.bearer_auth(tok);
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let transport = |e| CloudError::Transport {
            url: url.to_string(),
            source: e,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(transport)?;
        Ok((status, after, bytes.into()))
    }

    /// One request with a raw body (Cloud Storage media), authenticated like the rest.
    async fn raw(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<(&str, Vec<u8>)>,
    ) -> CloudResult<Vec<u8>> {
        let (status, bytes) = self
            .call(url, || {
                let req = self.http.request(method.clone(), url).query(query);
                match &body {
                    Some((ct, data)) => req.header("content-type", *ct).body(data.clone()),
                    None => req,
                }
            })
            .await?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        Err(api_error(&method, url.to_string(), status, &bytes))
    }

    fn object_path(bucket: &str, name: &str) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        format!("b/{}/o/{}", enc(bucket), enc(name))
    }

    /// Uploads an object (media upload); `if_generation_match` makes it conditional (0: only
    /// if it does not exist yet). A failed condition is an API error with status 412.
    pub async fn upload_object_if(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
        if_generation_match: Option<u64>,
    ) -> CloudResult<serde_json::Value> {
        let url = format!("{}/upload/storage/v1/b/{bucket}/o", self.base(Api::Storage));
        let mut q = vec![
            ("uploadType", "media".to_string()),
            ("name", name.to_string()),
        ];
        if let Some(g) = if_generation_match {
            q.push(("ifGenerationMatch", g.to_string()));
        }
        let bytes = self
            .raw(Method::POST, &url, &q, Some((content_type, data)))
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| CloudError::Decode {
            url,
            message: e.to_string(),
        })
    }

    pub async fn upload_object(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> CloudResult<serde_json::Value> {
        self.upload_object_if(bucket, name, content_type, data, None)
            .await
    }

    /// An object's bytes, or None if it does not exist.
    pub async fn download_object(&self, bucket: &str, name: &str) -> CloudResult<Option<Vec<u8>>> {
        let url = format!(
            "{}/storage/v1/{}",
            self.base(Api::Storage),
            Self::object_path(bucket, name)
        );
        match self
            .raw(Method::GET, &url, &[("alt", "media".to_string())], None)
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An object's metadata (generation, size...), or None if it does not exist.
    pub async fn object_metadata(
        &self,
        bucket: &str,
        name: &str,
    ) -> CloudResult<Option<serde_json::Value>> {
        let path = format!("/storage/v1/{}", Self::object_path(bucket, name));
        self.get_opt(&self.base(Api::Storage), &path).await
    }

    /// Deletes an object, if its generation is `if_generation_match` when given.
    pub async fn delete_object_if(
        &self,
        bucket: &str,
        name: &str,
        if_generation_match: Option<u64>,
    ) -> CloudResult<()> {
        let url = format!(
            "{}/storage/v1/{}",
            self.base(Api::Storage),
            Self::object_path(bucket, name)
        );
        let q: Vec<(&str, String)> = if_generation_match
            .map(|g| vec![("ifGenerationMatch", g.to_string())])
            .unwrap_or_default();
        self.raw(Method::DELETE, &url, &q, None).await.map(|_| ())
    }

    /// Names of the objects under `prefix` (all pages).
    pub async fn list_object_names(&self, bucket: &str, prefix: &str) -> CloudResult<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("prefix", prefix.to_string())];
            if let Some(t) = &token {
                q.push(("pageToken", t.clone()));
            }
            let v: serde_json::Value = self
                .send_to::<(), _>(
                    &self.base(Api::Storage),
                    Method::GET,
                    &format!("/storage/v1/b/{bucket}/o"),
                    &q,
                    None,
                )
                .await?;
            for it in v["items"].as_array().into_iter().flatten() {
                if let Some(n) = it["name"].as_str() {
                    names.push(n.to_string());
                }
            }
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(names)
    }

    /// Creates a bucket unless it exists (Cloud Storage JSON API).
    pub async fn ensure_bucket(&self, project: &str, bucket: &str) -> CloudResult<()> {
        if self
            .get_opt::<serde_json::Value>(&self.base(Api::Run), &format!("storage/v1/b/{bucket}"))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let _: serde_json::Value = self
            .send_to(
                &self.base(Api::Run),
                Method::POST,
                "storage/v1/b",
                &[("project", project.to_string())],
                Some(&serde_json::json!({"name": bucket})),
            )
            .await?;
        Ok(())
    }

    /// Is a runform local runtime answering at this endpoint?
    /// Resource Manager v1 `projects.get` (project number and name).
    pub async fn get_project(&self, project: &str) -> CloudResult<Option<serde_json::Value>> {
        let path = format!("/v1/projects/{project}");
        self.get_opt(&self.base(Api::ResourceManager), &path).await
    }

    /// Service Usage: a service's state (`ENABLED`/`DISABLED`); `name` is `projects/P/services/S`.
    pub async fn get_service(&self, name: &str) -> CloudResult<Option<serde_json::Value>> {
        self.get_opt(&self.base(Api::ServiceUsage), &format!("/v1/{name}"))
            .await
    }

    /// Enables or disables a service and waits for the operation.
    pub async fn set_service(
        &self,
        name: &str,
        enable: bool,
        disable_dependents: bool,
        timeout: Duration,
    ) -> CloudResult<()> {
        let base = self.base(Api::ServiceUsage);
        let (verb, body) = if enable {
            ("enable", serde_json::json!({}))
        } else {
            (
                "disable",
                serde_json::json!({ "disableDependentServices": disable_dependents }),
            )
        };
        let op: Operation = self
            .send_to(
                &base,
                Method::POST,
                &format!("/v1/{name}:{verb}"),
                &[],
                Some(&body),
            )
            .await?;
        self.wait_operation_on(&base, "v1", op, timeout).await?;
        Ok(())
    }

    /// Artifact Registry repositories of a location.
    pub async fn list_repositories(
        &self,
        project: &str,
        location: &str,
    ) -> CloudResult<Vec<Box<serde_json::value::RawValue>>> {
        let path = format!("v1/projects/{project}/locations/{location}/repositories");
        self.list_all(&self.base(Api::ArtifactRegistry), &path, 1000)
            .await
    }

    pub async fn create_repository(
        &self,
        parent: &str,
        id: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> CloudResult<serde_json::Value> {
        let base = self.base(Api::ArtifactRegistry);
        let op: Operation = self
            .send_to(
                &base,
                Method::POST,
                &format!("/v1/{parent}/repositories"),
                &[("repositoryId", id.to_string())],
                Some(body),
            )
            .await?;
        self.wait_operation_on(&base, "v1", op, timeout).await
    }

    pub async fn patch_repository(
        &self,
        name: &str,
        body: &serde_json::Value,
        mask: &str,
    ) -> CloudResult<serde_json::Value> {
        self.send_to(
            &self.base(Api::ArtifactRegistry),
            Method::PATCH,
            &format!("/v1/{name}"),
            &[("updateMask", mask.to_string())],
            Some(body),
        )
        .await
    }

    pub async fn delete_repository(&self, name: &str, timeout: Duration) -> CloudResult<()> {
        let base = self.base(Api::ArtifactRegistry);
        match self
            .send_to::<(), Operation>(&base, Method::DELETE, &format!("/v1/{name}"), &[], None)
            .await
        {
            Ok(op) => {
                self.wait_operation_on(&base, "v1", op, timeout).await?;
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Compute v1 `projects.get` (the default compute service account).
    pub async fn get_compute_project(
        &self,
        project: &str,
    ) -> CloudResult<Option<serde_json::Value>> {
        let path = format!("/compute/v1/projects/{project}");
        self.get_opt(&self.base(Api::Compute), &path).await
    }

    /// Cloud Storage `projects.serviceAccount.get` (the project's storage service agent).
    pub async fn get_storage_service_account(
        &self,
        project: &str,
    ) -> CloudResult<Option<serde_json::Value>> {
        let path = format!("/storage/v1/projects/{project}/serviceAccount");
        self.get_opt(&self.base(Api::Storage), &path).await
    }

    /// An access token for `google_client_config` (empty without auth).
    /// The token calls carry ("" when none), for `data.google_client_config`.
    pub async fn access_token(&self) -> String {
        let (auth, iam_credentials) = {
            let c = self.conn.read().unwrap_or_else(|e| e.into_inner());
            (c.auth.clone(), c.bases.get(Api::IamCredentials).to_string())
        };
        auth.token(&self.http, &iam_credentials)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub async fn health(&self) -> bool {
        self.get::<serde_json::Value>("runform/v1/health", &[])
            .await
            .is_ok()
    }
}

/// Runs a future to completion from synchronous code that may itself be inside a runtime
/// (configuration loading is synchronous; data sources are read over the async client).
pub fn block_on<F: std::future::Future + Send>(f: F) -> Result<F::Output, String>
where
    F::Output: Send,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| h.block_on(f)))
        }
        _ => std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(f))
                    .map_err(|e| format!("cannot start an async runtime: {e}"))
            })
            .join()
            .map_err(|_| "data source reader failed".to_string())?
        }),
    }
}

/// A Cloud Logging entry of a Cloud Run task as runform shows it.
fn line_of_entry(e: &serde_json::Value) -> LogEntry {
    let label = |k: &str| {
        e["labels"][k]
            .as_str()
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(0)
    };
    let log = e["logName"].as_str().unwrap_or("");
    let stream = if log.ends_with("%2Fstdout") {
        "stdout"
    } else if log.ends_with("%2Fstderr") {
        "stderr"
    } else if log.ends_with("%2Fvarlog%2Fsystem") {
        "system"
    } else {
        "runform"
    };
    let line = match (&e["textPayload"], &e["jsonPayload"]) {
        (serde_json::Value::String(t), _) => t.clone(),
        (_, serde_json::Value::Object(p)) => match p.get("message") {
            Some(serde_json::Value::String(m)) => m.clone(),
            _ => serde_json::Value::Object(p.clone()).to_string(),
        },
        _ => String::new(),
    };
    LogEntry {
        task: label("run.googleapis.com/task_index"),
        attempt: label("run.googleapis.com/task_attempt"),
        stream: stream.into(),
        line,
        timestamp: e["timestamp"].as_str().unwrap_or("").to_string(),
    }
}

/// `projects/P/secrets/S`: a Secret Manager secret (its IAM is Secret Manager's).
fn is_secret(resource: &str) -> bool {
    resource.split('/').nth(2) == Some("secrets")
}
