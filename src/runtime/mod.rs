//! The bundled local runtime: a server on loopback that speaks the Cloud Run Admin API v2 REST
//! surface and really runs jobs (each task a container of the job's image, or a local process).
//!
//! Layering: this module imports only `api` (wire types). It never imports the reconciler side.

pub mod auth;
pub mod eventarc;
pub mod exec;
pub mod executor;
pub mod guard;
pub mod http;
pub mod iam_admin;
pub mod jobs;
pub mod log_filter;
pub mod logging;
pub mod metadata;
pub mod platform;
pub mod projects;
pub mod run_v1;
pub mod scheduler;
pub mod secrets;
pub mod storage;
pub mod storage_http;
pub mod store;
pub mod uploads;
pub mod volumes;
pub mod workflows;
pub mod workflows_api;

use crate::api::{Code, ErrorBody};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;
use tokio::sync::watch;

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where the SQLite store and task logs live; `None` keeps everything in memory and logs in
    /// a temporary directory.
    pub data_dir: Option<PathBuf>,
    /// Time between SIGTERM and SIGKILL when a task attempt times out or is cancelled.
    pub kill_grace: Duration,
    /// Start a manual clock at this instant instead of following the system clock: cron
    /// schedules then fire only when a test advances it ([`Runtime::advance_clock`]).
    pub manual_clock: Option<chrono::DateTime<chrono::Utc>>,
    /// How tasks run: in a container engine, as local processes, or `Auto` (an engine when one
    /// answers). The library's default is `Process`; the CLI's is `Auto`.
    pub executor: executor::ExecutorChoice,
    /// The container engine to use (`unix:///path`, `tcp://host:port`); `None` asks
    /// `DOCKER_HOST`, then the default Docker and Podman sockets.
    pub docker_host: Option<String>,
    /// A token every call must carry (`runform local serve --token`); `None` lets any local
    /// caller in, as the emulators Google's clients expect.
    pub token: Option<String>,
    /// How long a client may take to send a request's headers (and a kept-alive connection
    /// may sit idle) before the runtime closes the connection.
    pub header_timeout: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            data_dir: None,
            kill_grace: Duration::from_secs(10),
            manual_clock: None,
            executor: executor::ExecutorChoice::Process,
            docker_host: None,
            token: None,
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// An error answered to a client: gRPC code plus message (plus optional field violations).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(code: Code, msg: impl Into<String>) -> Self {
        ApiError {
            body: ErrorBody::new(code, msg),
        }
    }
    pub fn code(&self) -> u16 {
        self.body.error.code
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::new(Code::Internal, format!("local runtime store error: {e:#}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Shared state of a running runtime.
pub struct Runtime {
    pub(crate) store: Mutex<Store>,
    pub(crate) cfg: RuntimeConfig,
    pub(crate) logs_dir: PathBuf,
    pub(crate) work_dir: PathBuf,
    /// Running executions: name → cancel signal.
    pub(crate) running: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// Wakes `operations:wait` and log followers when anything finishes.
    pub(crate) changed: tokio::sync::Notify,
    /// The scheduler's clock: the system's, or a manual one tests advance.
    pub(crate) manual_now: Option<Mutex<chrono::DateTime<chrono::Utc>>>,
    /// Wakes the scheduler loop when a scheduler job changes.
    pub(crate) schedule_changed: tokio::sync::Notify,
    /// The access tokens this runtime issued.
    pub(crate) tokens: auth::Tokens,
    /// How tasks run; chosen when the server starts (processes until then).
    pub(crate) executor: std::sync::OnceLock<executor::Executor>,
    /// The runtime's own URL (`http://127.0.0.1:PORT`), for tasks to call back; set when the
    /// server starts.
    pub(crate) base_url: std::sync::OnceLock<String>,
    /// Project ids callers have named (in paths), so that a project number (gcloud sends one
    /// as a v1 namespace) finds its project even before anything exists in it.
    pub(crate) projects_seen: Mutex<std::collections::BTreeSet<String>>,
    /// The job executions each workflow execution started (by name), so that what an
    /// upload set off can be followed to its end (`/runform/v1/events/started`).
    pub(crate) started_by_workflow: Mutex<HashMap<String, Vec<String>>>,
    /// The data directory's lock, held while this runtime lives: one runtime per data dir.
    _data_lock: Option<nix::fcntl::Flock<std::fs::File>>,
    _tmp: Option<tempdir::TempDir>,
}

mod tempdir {
    /// A directory removed on drop (for in-memory runtimes' logs).
    pub struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Runtime {
    pub fn open(cfg: RuntimeConfig) -> anyhow::Result<Arc<Runtime>> {
        let (base, tmp) = match &cfg.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let d = std::env::temp_dir()
                    .join(format!("runform-rt-{}", uuid::Uuid::new_v4().simple()));
                (d.clone(), Some(tempdir::TempDir(d)))
            }
        };
        let logs_dir = base.join("logs");
        let work_dir = base.join("work");
        std::fs::create_dir_all(&logs_dir)?;
        std::fs::create_dir_all(&work_dir)?;
        owner_only(&base)?;
        let data_lock = match &cfg.data_dir {
            Some(d) => Some(lock_data_dir(d)?),
            None => None,
        };
        let store = Store::open(cfg.data_dir.as_deref())?;
        let cfg_manual = cfg.manual_clock;
        let rt = Arc::new(Runtime {
            store: Mutex::new(store),
            cfg,
            logs_dir,
            work_dir,
            running: Mutex::new(HashMap::new()),
            changed: tokio::sync::Notify::new(),
            manual_now: cfg_manual.map(Mutex::new),
            schedule_changed: tokio::sync::Notify::new(),
            tokens: auth::Tokens::default(),
            executor: Default::default(),
            base_url: Default::default(),
            projects_seen: Default::default(),
            started_by_workflow: Default::default(),
            _data_lock: data_lock,
            _tmp: tmp,
        });
        rt.recover_interrupted()?;
        rt.skip_missed_schedules()?;
        Ok(rt)
    }

    /// The executor tasks run with.
    pub fn executor(&self) -> executor::Executor {
        self.executor.get().cloned().unwrap_or_default()
    }

    /// Chooses the executor for `choice` (once; later calls keep the first choice).
    pub async fn start_executor(&self) -> anyhow::Result<()> {
        if self.executor.get().is_none() {
            let chosen =
                executor::Executor::choose(self.cfg.executor, self.cfg.docker_host.as_deref())
                    .await?;
            let _ = self.executor.set(chosen);
        }
        Ok(())
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A poisoned lock means a handler panicked mid-update; the data is still usable.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A runtime serving HTTP on a loopback address.
pub struct Server {
    pub addr: SocketAddr,
    pub runtime: Arc<Runtime>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    /// The scheduler loop (system clock only).
    cron: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Starts the runtime on `addr` (use port 0 for any free port). Binds loopback only.
    pub async fn start(cfg: RuntimeConfig, addr: SocketAddr) -> anyhow::Result<Server> {
        if !addr.ip().is_loopback() {
            anyhow::bail!("the local runtime binds loopback addresses only (got {addr})");
        }
        let runtime = Runtime::open(cfg)?;
        runtime.start_executor().await?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let _ = runtime.base_url.set(format!("http://{addr}"));
        let app = http::router(runtime.clone());
        let cron = runtime
            .manual_now
            .is_none()
            .then(|| tokio::spawn(scheduler::run_loop(Arc::downgrade(&runtime))));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let header_timeout = runtime.cfg.header_timeout;
        let handle = tokio::spawn(serve_http(listener, app, header_timeout, rx));
        Ok(Server {
            addr,
            runtime,
            shutdown: Some(tx),
            handle: Some(handle),
            cron,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving, cancels running executions, and waits for them to wind down.
    pub async fn stop(mut self) {
        if let Some(c) = self.cron.take() {
            c.abort();
        }
        self.runtime.cancel_all().await;
        if let Some(engine) = self.runtime.executor().engine {
            engine.remove_own().await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
        }
    }
}

/// The error when another runtime holds a data directory (its pid, when it wrote one).
#[derive(Debug, thiserror::Error)]
#[error("another local runtime (pid {pid}) is using {dir}")]
pub struct DataDirInUse {
    pub dir: String,
    pub pid: String,
}

/// Takes the data directory's lock (`runtime.lock`, released when the process ends, however
/// it ends): two runtimes on one store would each take the other's running executions for
/// interrupted ones.
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("runtime.lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(mut held) => {
            held.set_len(0)?;
            held.rewind()?;
            write!(held, "{}", std::process::id())?;
            Ok(held)
        }
        Err((mut file, _)) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            Err(DataDirInUse {
                dir: dir.display().to_string(),
                pid: if pid.trim().is_empty() {
                    "?".into()
                } else {
                    pid.trim().to_string()
                },
            }
            .into())
        }
    }
}

/// Makes the runtime's data directory the owner's only (0700): it holds the store (env
/// values, secrets' uses), task logs, objects and secrets. Files inside are created 0600
/// where the runtime creates them, and nothing inside is reachable by others either way.
fn owner_only(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", dir.display()))
}

/// Serves `app` on `listener` until `stop` fires. Every connection has a header-read
/// timeout (a client that opens connections and sends headers slowly or never, the
/// "slowloris", gets them closed) and keep-alive connections close when idle that long.
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: back off a moment rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Current time as RFC 3339 UTC with microseconds, as Google's APIs print it.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
