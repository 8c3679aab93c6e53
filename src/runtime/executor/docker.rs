//! The container executor: an attempt runs as a container of the job's image in a
//! Docker-compatible engine (Docker, or Podman's Docker API), under Cloud Run's container
//! contract: `command` replaces the image's ENTRYPOINT and `args` its CMD, the contract's
//! environment, the CPU and memory limits enforced by the engine (swap equal to memory, so an
//! out-of-memory task is killed rather than swapping), SIGTERM then SIGKILL after the grace
//! period, and every line of output streamed into the attempt's log as it is written.
//!
//! Containers share the host's network, so a task reaches the runtime and the user's loopback
//! services at 127.0.0.1. They carry labels naming the runtime that started them; a runtime
//! removes its own when it stops and those of runtimes that died when it starts.

use super::{registry_auth, wait_cancel, Attempt, LogSink, Outcome};
use crate::runtime::volumes::Mount;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

/// The label every container of runform's carries: the runtime process that owns it.
pub const OWNER_LABEL: &str = "runform.runtime";
const HOST_LABEL: &str = "runform.host";

/// A connection to a container engine.
pub struct Engine {
    docker: Docker,
    /// Where it answered (`unix:///var/run/docker.sock`).
    pub endpoint: String,
    /// What it is (`Docker Engine 20.10.24`, `Podman Engine 5.2.0`).
    pub product: String,
    /// This runtime's owner label value: its pid and the process's start time.
    owner: String,
    host: String,
    /// One pull at a time per image.
    pulls: std::sync::Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

/// The sockets tried when `DOCKER_HOST` is unset: Docker's, then Podman's (rootless, rootful).
fn default_endpoints() -> Vec<String> {
    let mut v = vec!["unix:///var/run/docker.sock".to_string()];
    if let Ok(xdg) = std::env::var("XDG_RUNTIME_DIR") {
        v.push(format!("unix://{xdg}/podman/podman.sock"));
    }
    v.push(format!("unix:///run/user/{}/podman/podman.sock", {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
    }));
    v.push("unix:///run/podman/podman.sock".into());
    v.dedup();
    v
}

impl Engine {
    /// Connects to the engine at `host`, else `DOCKER_HOST`, else the first default socket
    /// that answers. The error says what was tried.
    pub async fn connect(host: Option<&str>) -> Result<Engine, String> {
        let endpoints = match (host, std::env::var("DOCKER_HOST")) {
            (Some(h), _) => vec![h.to_string()],
            (None, Ok(h)) if !h.is_empty() => vec![h],
            _ => default_endpoints(),
        };
        let mut tried = Vec::new();
        for ep in &endpoints {
            match Self::connect_to(ep).await {
                Ok(e) => return Ok(e),
                Err(why) => tried.push(format!("{ep}: {why}")),
            }
        }
        Err(tried.join("; "))
    }

    async fn connect_to(endpoint: &str) -> Result<Engine, String> {
        let docker = Docker::connect_with_host(endpoint).map_err(short_error)?;
        tokio::time::timeout(Duration::from_secs(3), docker.ping())
            .await
            .map_err(|_| "no answer within 3s".to_string())?
            .map_err(short_error)?;
        let docker = docker.negotiate_version().await.map_err(short_error)?;
        let version = docker.version().await.map_err(short_error)?;
        let name = version
            .platform
            .as_ref()
            .map(|p| p.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Docker Engine".into());
        let product = format!("{name} {}", version.version.unwrap_or_default());
        Ok(Engine {
            docker,
            endpoint: endpoint.to_string(),
            product: product.trim().to_string(),
            owner: owner_token(std::process::id())
                .unwrap_or_else(|| std::process::id().to_string()),
            host: hostname(),
            pulls: Default::default(),
        })
    }

    /// Makes sure `image` is in the engine: used as it is when present, else pulled with the
    /// user's registry credentials. The error names the image and says how to build or load it.
    pub async fn ensure_image(&self, image: &str) -> Result<(), String> {
        if self.docker.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        let lock = self
            .pulls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(image.to_string())
            .or_default()
            .clone();
        let _one_at_a_time = lock.lock().await;
        if self.docker.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        let (repo, tag) = split_reference(image);
        let opts = CreateImageOptions {
            from_image: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            platform: if cfg!(target_arch = "x86_64") {
                String::new()
            } else {
                // Cloud Run runs linux/amd64 images only.
                "linux/amd64".into()
            },
            ..Default::default()
        };
        let creds = registry_auth::credentials_for(image);
        let mut stream = self.docker.create_image(Some(opts), None, creds);
        while let Some(step) = stream.next().await {
            if let Err(e) = step {
                return Err(format!(
                    "image {image:?} is not in the container engine ({}) and could not be pulled: {}. \
                     Build or load it first (`docker build -t {image} .`, `docker load -i IMAGE.tar` or \
                     `docker import`), then run the job again",
                    self.product,
                    short_error(e)
                ));
            }
        }
        Ok(())
    }

    /// Runs attempt `a` as a container of `image` and reports how it ended. The container is
    /// removed afterwards (explicitly: auto-removal would lose the out-of-memory flag).
    pub async fn run(
        &self,
        a: &Attempt<'_>,
        name: &str,
        cancel: &mut watch::Receiver<bool>,
    ) -> Outcome {
        let (cpu, memory) = super::limits(a.container);
        let body = self.create_body(a, cpu, memory);
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                }),
                body,
            )
            .await;
        let id = match created {
            Ok(r) => r.id,
            Err(e) => {
                return Outcome::setup_failure(format!(
                    "the container engine refused the container: {}",
                    short_error(e)
                ))
            }
        };
        let outcome = self.start_and_wait(a, &id, memory, cancel).await;
        self.remove(&id).await;
        outcome
    }

    fn create_body(&self, a: &Attempt<'_>, cpu: f64, memory: u64) -> ContainerCreateBody {
        let c = a.container;
        let mut labels: HashMap<String, String> = a.labels.iter().cloned().collect();
        labels.insert(OWNER_LABEL.into(), self.owner.clone());
        labels.insert(HOST_LABEL.into(), self.host.clone());
        let mut tmpfs = HashMap::new();
        let mut binds = Vec::new();
        for m in &a.mounts {
            match m {
                Mount::Tmpfs { path, size } => {
                    let size = size.unwrap_or(memory / 2);
                    tmpfs.insert(path.clone(), format!("rw,size={size}"));
                }
                Mount::Bind {
                    source,
                    path,
                    read_only,
                } => binds.push(format!(
                    "{}:{path}:{}",
                    source.display(),
                    if *read_only { "ro" } else { "rw" }
                )),
            }
        }
        ContainerCreateBody {
            image: Some(c.image.clone()),
            // Sent only when set: the engine then keeps the image's ENTRYPOINT and CMD by
            // Kubernetes' rule (command replaces ENTRYPOINT and drops CMD; args replace CMD).
            entrypoint: (!c.command.is_empty()).then(|| c.command.clone()),
            cmd: (!c.args.is_empty()).then(|| c.args.clone()),
            env: Some(a.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: (!c.working_dir.is_empty()).then(|| c.working_dir.clone()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some("host".into()),
                memory: Some(memory as i64),
                memory_swap: Some(memory as i64),
                nano_cpus: Some((cpu * 1e9) as i64),
                tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
                binds: (!binds.is_empty()).then_some(binds),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn start_and_wait(
        &self,
        a: &Attempt<'_>,
        id: &str,
        memory: u64,
        cancel: &mut watch::Receiver<bool>,
    ) -> Outcome {
        if let Err(e) = self.docker.start_container(id, None).await {
            let msg = format!("the container could not start: {}", short_error(e));
            return Outcome::start_failure(&a.log, msg).await;
        }
        let logs = tokio::spawn(pump_logs(
            self.docker.clone(),
            id.to_string(),
            a.log.clone(),
        ));
        let ended = tokio::select! {
            code = self.wait(id) => Ended::Exited(code),
            _ = tokio::time::sleep(a.timeout) => Ended::TimedOut(self.terminate(id, a.grace).await),
            _ = wait_cancel(cancel) => {
                self.terminate(id, a.grace).await;
                Ended::Cancelled
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), logs).await;
        let oom_killed = self
            .docker
            .inspect_container(id, None)
            .await
            .ok()
            .and_then(|i| i.state)
            .and_then(|s| s.oom_killed)
            .unwrap_or(false);
        match ended {
            Ended::Cancelled => Outcome::Cancelled,
            Ended::TimedOut(sig) => {
                a.log
                    .write("system", &format!("Container terminated on signal {sig}."))
                    .await;
                Outcome::timed_out(sig, &a.timeout_text)
            }
            Ended::Exited(_) if oom_killed => {
                let limit = super::memory_text(memory);
                a.log
                    .write(
                        "system",
                        &format!(
                            "Container terminated on signal 9.\nMemory limit of {limit} exceeded. Consider increasing the memory limit, \
                             see https://cloud.google.com/run/docs/configuring/memory-limits"
                        ),
                    )
                    .await;
                Outcome::Failed {
                    exit_code: None,
                    signal: Some(9),
                    message: format!(
                        "The configured memory limit was reached: memory limit of {limit} exceeded."
                    ),
                    retryable: true,
                }
            }
            Ended::Exited(code) => {
                a.log
                    .write("system", &format!("Container called exit({code})."))
                    .await;
                Outcome::of_exit(code)
            }
        }
    }

    /// The container's exit code once it stops. bollard reports a non-zero exit as an error
    /// carrying the code; that is a result, not a failure.
    async fn wait(&self, id: &str) -> i64 {
        let opts = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let mut stream = self.docker.wait_container(id, Some(opts));
        match stream.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            _ => self
                .docker
                .inspect_container(id, None)
                .await
                .ok()
                .and_then(|i| i.state)
                .and_then(|s| s.exit_code)
                .unwrap_or(-1),
        }
    }

    /// SIGTERM, then SIGKILL after the grace period. Returns the signal that ended it.
    async fn terminate(&self, id: &str, grace: Duration) -> i32 {
        self.kill(id, "SIGTERM").await;
        if tokio::time::timeout(grace, self.wait(id)).await.is_ok() {
            return 15;
        }
        self.kill(id, "SIGKILL").await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.wait(id)).await;
        9
    }

    async fn kill(&self, id: &str, signal: &str) {
        let _ = self
            .docker
            .kill_container(
                id,
                Some(KillContainerOptions {
                    signal: signal.into(),
                }),
            )
            .await;
    }

    async fn remove(&self, id: &str) {
        let _ = self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
    }

    /// runform's containers on this host: (id, owner label).
    async fn labelled(&self) -> Vec<(String, String)> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                OWNER_LABEL.to_string(),
                format!("{HOST_LABEL}={}", self.host),
            ],
        )]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap_or_default();
        list.into_iter()
            .filter_map(|c| {
                let owner = c.labels.as_ref()?.get(OWNER_LABEL)?.clone();
                Some((c.id?, owner))
            })
            .collect()
    }

    /// Removes containers left by runtimes on this host whose process is gone. Returns how many.
    pub async fn remove_orphans(&self) -> usize {
        let mut removed = 0;
        for (id, owner) in self.labelled().await {
            if !owner_alive(&owner) {
                self.remove(&id).await;
                removed += 1;
            }
        }
        removed
    }

    /// Removes every container this runtime started (on stop).
    pub async fn remove_own(&self) {
        for (id, owner) in self.labelled().await {
            if owner == self.owner {
                self.remove(&id).await;
            }
        }
    }
}

enum Ended {
    Exited(i64),
    TimedOut(i32),
    Cancelled,
}

/// Streams the container's stdout and stderr into the log, line by line as written. The
/// engine's frames do not follow lines, so each stream is buffered up to its next newline.
async fn pump_logs(docker: Docker, id: String, log: LogSink) {
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut stream = docker.logs(&id, Some(opts));
    let mut out = Vec::new();
    let mut err = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let (buf, name) = match chunk {
            bollard::container::LogOutput::StdOut { message } => {
                out.extend_from_slice(&message);
                (&mut out, "stdout")
            }
            bollard::container::LogOutput::StdErr { message } => {
                err.extend_from_slice(&message);
                (&mut err, "stderr")
            }
            bollard::container::LogOutput::Console { message } => {
                out.extend_from_slice(&message);
                (&mut out, "stdout")
            }
            bollard::container::LogOutput::StdIn { .. } => continue,
        };
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            log.write_line(name, text.trim_end_matches('\r')).await;
        }
    }
    for (buf, name) in [(out, "stdout"), (err, "stderr")] {
        if !buf.is_empty() {
            log.write_line(name, &String::from_utf8_lossy(&buf)).await;
        }
    }
    log.flush().await;
}

/// `repo` and `tag` (or digest) of an image reference; `latest` when it names neither (an
/// empty tag would pull every tag).
pub fn split_reference(image: &str) -> (&str, &str) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, digest);
    }
    match image.rfind(':') {
        Some(i) if i > image.rfind('/').unwrap_or(0) => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    }
}

/// The engine's error without bollard's wrapping noise.
fn short_error(e: bollard::errors::Error) -> String {
    use bollard::errors::Error;
    match e {
        Error::DockerResponseServerError { message, .. } => message,
        Error::SocketNotFoundError(path) => format!("no socket at {path}"),
        other => other.to_string(),
    }
}

/// `PID-STARTTIME`: names a process uniquely across pid reuse (start time in clock ticks since
/// boot, field 22 of /proc/PID/stat).
pub fn owner_token(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let start = rest.split(' ').nth(19)?;
    Some(format!("{pid}-{start}"))
}

/// Is the runtime process an owner label names still running?
fn owner_alive(owner: &str) -> bool {
    let Some(pid) = owner.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    owner_token(pid).as_deref() == Some(owner)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repo_and_tag() {
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(split_reference("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(
            split_reference("localhost:5000/app"),
            ("localhost:5000/app", "latest")
        );
        assert_eq!(
            split_reference("us-docker.pkg.dev/p/r/app:1.4"),
            ("us-docker.pkg.dev/p/r/app", "1.4")
        );
        assert_eq!(split_reference("app@sha256:abc"), ("app", "sha256:abc"));
    }

    #[test]
    fn owners_are_alive_only_while_their_process_runs() {
        let me = owner_token(std::process::id()).unwrap();
        assert!(owner_alive(&me));
        // Same pid, another start time: a reused pid is not the owner.
        let reused = format!("{}-1", std::process::id());
        assert!(!owner_alive(&reused));
        assert!(!owner_alive("999999999-5"));
        assert!(!owner_alive("garbage"));
    }
}
