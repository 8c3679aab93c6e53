//! How a task attempt's container is run: as a container in a Docker-compatible engine (the
//! job's real image, under Cloud Run's container contract), or as a local process (for machines
//! without an engine, through `local_image` mappings or a `command`).
//!
//! `exec.rs` decides *when* attempts run (parallelism, retries, cancel); this module decides
//! *how* one runs and reports what became of it as an [`Outcome`].

pub mod docker;
pub mod process;
pub mod registry_auth;

use super::exec::{ImageMapping, SAMPLE_IMAGE};
use crate::api::run::Container;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

/// What `--executor` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutorChoice {
    /// A container engine when one answers, else processes.
    Auto,
    /// A container engine, or refuse to start.
    Docker,
    /// Local processes (no container engine), as before containers were supported.
    #[default]
    Process,
}

impl std::str::FromStr for ExecutorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ExecutorChoice::Auto),
            "docker" => Ok(ExecutorChoice::Docker),
            "process" => Ok(ExecutorChoice::Process),
            other => Err(format!(
                "unknown executor {other:?}: expected auto, docker or process"
            )),
        }
    }
}

/// The executor a runtime uses, chosen once at start.
#[derive(Clone)]
pub struct Executor {
    /// The container engine, when one is used.
    pub engine: Option<Arc<docker::Engine>>,
    /// One line saying which executor this is and why (printed by `runform local serve`).
    pub description: String,
}

impl Default for Executor {
    fn default() -> Self {
        Executor {
            engine: None,
            description: "process executor (tasks run as local processes)".into(),
        }
    }
}

impl Executor {
    /// Chooses the executor for `choice`: `auto` uses a container engine when one answers (at
    /// `host`, else `DOCKER_HOST`, else the default Docker and Podman sockets) and says why
    /// when none does.
    pub async fn choose(choice: ExecutorChoice, host: Option<&str>) -> anyhow::Result<Executor> {
        if choice == ExecutorChoice::Process {
            return Ok(Executor {
                engine: None,
                description: "process executor (chosen with --executor process): tasks run as local processes".into(),
            });
        }
        match docker::Engine::connect(host).await {
            Ok(engine) => {
                let removed = engine.remove_orphans().await;
                let mut description = format!(
                    "docker executor: tasks run in containers of {} at {}",
                    engine.product, engine.endpoint
                );
                if removed > 0 {
                    description.push_str(&format!(
                        " (removed {removed} container(s) left by a runtime that stopped)"
                    ));
                }
                Ok(Executor {
                    engine: Some(Arc::new(engine)),
                    description,
                })
            }
            Err(why) if choice == ExecutorChoice::Auto => Ok(Executor {
                engine: None,
                description: format!(
                    "process executor: no container engine answered ({why}); tasks run as local processes"
                ),
            }),
            Err(why) => anyhow::bail!("--executor docker: no container engine answered ({why})"),
        }
    }

    pub fn name(&self) -> &'static str {
        if self.engine.is_some() {
            "docker"
        } else {
            "process"
        }
    }
}

/// What an attempt turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded,
    Failed {
        exit_code: Option<i32>,
        signal: Option<i32>,
        message: String,
        retryable: bool,
    },
    Cancelled,
}

impl Outcome {
    /// A failure before anything ran (not worth retrying).
    pub fn setup_failure(message: impl Into<String>) -> Outcome {
        Outcome::Failed {
            exit_code: None,
            signal: None,
            message: message.into(),
            retryable: false,
        }
    }

    /// The task's process or container could not be started: said in its log, and failed as
    /// a shell's "command not found" (127), worth retrying.
    pub async fn start_failure(log: &LogSink, message: String) -> Outcome {
        log.write("stderr", &message).await;
        Outcome::Failed {
            exit_code: Some(127),
            signal: None,
            message,
            retryable: true,
        }
    }

    /// The outcome of an exit status: 0 succeeds, anything else fails with Cloud Run's wording.
    pub fn of_exit(code: i64) -> Outcome {
        if code == 0 {
            return Outcome::Succeeded;
        }
        Outcome::Failed {
            exit_code: Some(code as i32),
            signal: None,
            message: format!("The container exited with an error (exit code {code})."),
            retryable: true,
        }
    }

    /// The task ran past its timeout and was stopped by `signal`.
    pub fn timed_out(signal: i32, timeout: &str) -> Outcome {
        Outcome::Failed {
            exit_code: None,
            signal: Some(signal),
            message: format!(
                "The configured timeout was reached: the task attempt exceeded its timeout of {timeout} and was stopped."
            ),
            retryable: true,
        }
    }
}

/// Everything one attempt needs, whichever executor runs it.
pub struct Attempt<'a> {
    pub container: &'a Container,
    /// The whole environment the contract gives the task (contract, declared, endpoints).
    pub env: Vec<(String, String)>,
    /// Labels naming the runtime, job, execution, task and attempt.
    pub labels: Vec<(String, String)>,
    /// Mounts prepared for the container.
    pub mounts: Vec<super::volumes::Mount>,
    pub timeout: Duration,
    /// The timeout as the job wrote it (for messages).
    pub timeout_text: String,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    pub log: LogSink,
    /// The directory a process runs in when neither the job nor a mapping names one.
    pub work_dir: PathBuf,
}

/// How a container is run on this machine.
pub enum Route {
    /// In the container engine, from the job's image.
    Engine,
    /// As a local process.
    Process {
        argv: Vec<String>,
        cwd: Option<PathBuf>,
    },
    /// Cannot run here; the message says what to do.
    Missing(String),
}

fn image_base(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    // A tag is a ':' after the last '/'.
    match no_digest.rfind(':') {
        Some(i) if i > no_digest.rfind('/').unwrap_or(0) => &no_digest[..i],
        _ => no_digest,
    }
}

/// The built-in stand-in for Google's sample image: like the sample, it reads SLEEP_MS and
/// FAIL_RATE, sleeps, then fails with probability FAIL_RATE.
const SAMPLE_SCRIPT: &str = r#"echo "Starting Task #${CLOUD_RUN_TASK_INDEX}, Attempt #${CLOUD_RUN_TASK_ATTEMPT}..."
ms="${SLEEP_MS:-0}"
case "$ms" in ''|*[!0-9]*) echo "SLEEP_MS must be a whole number of milliseconds" >&2; exit 2;; esac
if [ "$ms" -gt 0 ]; then sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"; fi
if awk -v r="${FAIL_RATE:-0}" -v s="$$${CLOUD_RUN_TASK_INDEX}${CLOUD_RUN_TASK_ATTEMPT}" 'BEGIN { srand(s); exit !(rand() < r + 0) }'; then
  echo "Task #${CLOUD_RUN_TASK_INDEX}, Attempt #${CLOUD_RUN_TASK_ATTEMPT} failed." >&2
  exit 1
fi
echo "Completed Task #${CLOUD_RUN_TASK_INDEX}."
"#;

pub fn is_sample_image(image: &str) -> bool {
    image_base(image) == SAMPLE_IMAGE
}

/// Where a container runs. An explicit `local_image` mapping always wins (the stack asked for
/// it); otherwise an engine runs the image; without one, a `command` runs as a process and the
/// sample image runs its built-in stand-in.
pub fn route(c: &Container, images: &[ImageMapping], engine: bool) -> Route {
    if let Some(m) = mapping_for(&c.image, images) {
        let mut argv = m.command.clone();
        argv.extend(if c.args.is_empty() {
            m.args.clone()
        } else {
            c.args.clone()
        });
        return Route::Process {
            argv,
            cwd: m.working_dir.as_ref().map(PathBuf::from),
        };
    }
    if engine {
        return Route::Engine;
    }
    process_route(c).unwrap_or_else(|| {
        Route::Missing(format!(
            "the local runtime cannot run image {:?}: it runs tasks as local processes (no container engine \
             is in use: start Docker or Podman, then `runform local serve --executor auto`), the container \
             has no command, and no local mapping is registered for it. Add a `local_image \"{}\" {{ command = [...] }}` block to the \
             stack (or set the container's command); see README \"Local images\"",
            c.image,
            image_base(&c.image)
        ))
    })
}

/// How the container runs as a process without an engine: its command, or the sample image's
/// stand-in.
pub fn process_route(c: &Container) -> Option<Route> {
    if !c.command.is_empty() {
        let mut argv = c.command.clone();
        argv.extend(c.args.iter().cloned());
        let cwd = (!c.working_dir.is_empty())
            .then(|| PathBuf::from(&c.working_dir))
            .filter(|p| p.is_dir());
        return Some(Route::Process { argv, cwd });
    }
    is_sample_image(&c.image).then(|| Route::Process {
        argv: vec!["/bin/sh".into(), "-c".into(), SAMPLE_SCRIPT.into()],
        cwd: None,
    })
}

fn mapping_for<'a>(image: &str, images: &'a [ImageMapping]) -> Option<&'a ImageMapping> {
    images.iter().find(|m| m.image == image).or_else(|| {
        images
            .iter()
            .find(|m| image_base(&m.image) == image_base(image))
    })
}

/// Why the runtime could not run `image` with this executor, if it cannot (for the plan's
/// warning): no mapping, no engine, no command, not the sample.
pub fn cannot_run(c: &Container, images: &[ImageMapping], engine: bool) -> Option<String> {
    match route(c, images, engine) {
        Route::Missing(msg) => Some(msg),
        _ => None,
    }
}

/// Appends an attempt's output to its log file, one `STREAM LINE` per line, as it is written.
#[derive(Clone)]
pub struct LogSink {
    path: PathBuf,
    file: Arc<tokio::sync::Mutex<Option<tokio::fs::File>>>,
}

/// When a log line was written (each line of a log file is `STREAM@TIME TEXT`; Cloud Logging
/// gives every entry its time).
fn log_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Splits a log file's line into (stream, time if recorded, text). Lines written before
/// times were recorded are `STREAM TEXT`.
pub fn parse_log_line(line: &str) -> (&str, Option<&str>, &str) {
    let (head, text) = line.split_once(' ').unwrap_or((line, ""));
    match head.split_once('@') {
        Some((stream, at)) => (stream, Some(at), text),
        None if matches!(head, "stdout" | "stderr" | "system" | "runform") => (head, None, text),
        None => ("stdout", None, line),
    }
}

impl LogSink {
    pub async fn open(path: &Path) -> LogSink {
        if let Some(parent) = path.parent() {
            let _ = tokio::fs::create_dir_all(parent).await;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .await
            .ok();
        LogSink {
            path: path.to_path_buf(),
            file: Arc::new(tokio::sync::Mutex::new(file)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes each line of `text` on `stream`.
    pub async fn write(&self, stream: &str, text: &str) {
        let mut g = self.file.lock().await;
        if let Some(f) = g.as_mut() {
            let at = log_time();
            let mut buf = String::new();
            for l in text.lines() {
                buf.push_str(&format!("{stream}@{at} {l}\n"));
            }
            let _ = f.write_all(buf.as_bytes()).await;
        }
    }

    /// Writes one line of output exactly as it was (an empty line stays a line).
    pub async fn write_line(&self, stream: &str, line: &str) {
        let mut g = self.file.lock().await;
        if let Some(f) = g.as_mut() {
            let at = log_time();
            let _ = f
                .write_all(format!("{stream}@{at} {line}\n").as_bytes())
                .await;
        }
    }

    pub async fn flush(&self) {
        if let Some(f) = self.file.lock().await.as_mut() {
            let _ = f.flush().await;
        }
    }
}

/// Resolves when `rx` says cancel (never, if its sender is gone).
pub async fn wait_cancel(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The variables that point Google's client libraries and gcloud inside a task at the runtime
/// (`base` is its URL, `http://127.0.0.1:PORT`): `STORAGE_EMULATOR_HOST` for the storage
/// libraries, and gcloud's endpoint overrides for the APIs the runtime serves.
pub fn endpoint_env(base: &str) -> Vec<(String, String)> {
    let mut env = vec![("STORAGE_EMULATOR_HOST".to_string(), base.to_string())];
    for api in [
        "RUN",
        "CLOUDSCHEDULER",
        "EVENTARC",
        "WORKFLOWS",
        "WORKFLOWEXECUTIONS",
        "IAM",
        "IAMCREDENTIALS",
        "CLOUDRESOURCEMANAGER",
        "SERVICEUSAGE",
        "ARTIFACTREGISTRY",
        "SECRETMANAGER",
        "LOGGING",
    ] {
        env.push((
            format!("CLOUDSDK_API_ENDPOINT_OVERRIDES_{api}"),
            format!("{base}/"),
        ));
    }
    env.push((
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE".into(),
        format!("{base}/storage/v1/"),
    ));
    env
}

/// Cloud Run's defaults when a job sets no limits: 1 CPU and 512 MiB.
pub const DEFAULT_CPU: f64 = 1.0;
pub const DEFAULT_MEMORY: f64 = 512.0 * 1024.0 * 1024.0;

/// The container's CPU (cores) and memory (bytes) limits, with Cloud Run's defaults.
pub fn limits(c: &Container) -> (f64, u64) {
    let get = |k: &str| {
        c.resources
            .as_ref()
            .and_then(|r| r.limits.get(k))
            .and_then(|v| crate::api::run::parse_quantity(v))
    };
    let cpu = get("cpu").filter(|v| *v > 0.0).unwrap_or(DEFAULT_CPU);
    let memory = get("memory").filter(|v| *v > 0.0).unwrap_or(DEFAULT_MEMORY);
    (cpu, memory as u64)
}

/// Memory as Cloud Run prints it (`512 MiB`, `2 GiB`).
pub fn memory_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= 1024 * MIB && bytes % (1024 * MIB) == 0 {
        format!("{} GiB", bytes / (1024 * MIB))
    } else {
        format!("{} MiB", bytes.div_ceil(MIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::run::ResourceRequirements;

    fn container(image: &str, command: &[&str]) -> Container {
        Container {
            image: image.into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_mapping_wins_then_the_engine_then_a_command() {
        let maps = vec![ImageMapping {
            image: "example.com/app".into(),
            command: vec!["/bin/echo".into()],
            args: vec!["mapped".into()],
            working_dir: None,
        }];
        let mapped = container("example.com/app:1.2", &[]);
        assert!(
            matches!(route(&mapped, &maps, true), Route::Process { argv, .. } if argv == ["/bin/echo", "mapped"])
        );
        let plain = container("example.com/other:1", &[]);
        assert!(matches!(route(&plain, &maps, true), Route::Engine));
        assert!(
            matches!(route(&plain, &maps, false), Route::Missing(m) if m.contains("no container engine is in use") && m.contains("local_image"))
        );
        let with_cmd = container("example.com/other:1", &["/bin/true"]);
        assert!(matches!(
            route(&with_cmd, &maps, false),
            Route::Process { .. }
        ));
        assert!(matches!(route(&with_cmd, &maps, true), Route::Engine));
        let sample = container(&format!("{SAMPLE_IMAGE}:latest"), &[]);
        assert!(matches!(route(&sample, &[], false), Route::Process { .. }));
    }

    #[test]
    fn image_base_strips_tag_and_digest() {
        assert_eq!(
            image_base("us-docker.pkg.dev/cloudrun/container/job:latest"),
            SAMPLE_IMAGE
        );
        assert_eq!(
            image_base("localhost:5000/x@sha256:abc"),
            "localhost:5000/x"
        );
        assert_eq!(image_base("localhost:5000/x"), "localhost:5000/x");
    }

    #[test]
    fn limits_default_to_cloud_runs() {
        let mut c = container("x", &[]);
        assert_eq!(limits(&c), (1.0, 512 * 1024 * 1024));
        c.resources = Some(ResourceRequirements {
            limits: [("cpu".into(), "2".into()), ("memory".into(), "1Gi".into())].into(),
            ..Default::default()
        });
        assert_eq!(limits(&c), (2.0, 1024 * 1024 * 1024));
        assert_eq!(memory_text(512 * 1024 * 1024), "512 MiB");
        assert_eq!(memory_text(2 * 1024 * 1024 * 1024), "2 GiB");
    }
}
