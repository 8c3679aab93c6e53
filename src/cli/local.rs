//! `runform local ...`: serve the runtime, point Google's tools at it, upload files to it.

use crate::ops;
use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub(super) enum LocalCmd {
    /// Run the local runtime in the foreground.
    Serve {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:8790")]
        addr: String,
        /// Data directory (default: the stack's .runform/local/data, so `--local` commands use this server).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The stack directory this server serves.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// How tasks run: `docker` (containers of the job's image in Docker or Podman),
        /// `process` (local processes, through `local_image` mappings or the job's command),
        /// or `auto` (docker when an engine answers at DOCKER_HOST or the default sockets).
        #[arg(long, env = "RUNFORM_EXECUTOR", default_value = "auto")]
        executor: crate::runtime::executor::ExecutorChoice,
        /// Require this token on every call (`X-Runform-Token` or `Authorization: Bearer`);
        /// without a value, a random one. It is kept in .runform/local/token (0600), where
        /// runform's commands find it; a token file there is required even without the flag.
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        token: Option<String>,
    },
    /// Print `export` lines that point gcloud and Google's client libraries at a local
    /// runtime, with no credentials: `eval "$(runform local env)"`.
    Env {
        /// The runtime's URL (default: the stack's `runform local serve`, else
        /// http://127.0.0.1:8790).
        #[arg(long)]
        endpoint: Option<String>,
        /// The project gcloud and the clients use by default.
        #[arg(long, default_value = "runform-local")]
        project: String,
        /// The stack directory whose runtime to point at.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Upload a file to a bucket on the local runtime (emits the storage events Eventarc
    /// triggers listen to): `runform local upload photo.jpg gs://input-proj/photos/cat.jpg`.
    Upload {
        /// The file to upload.
        file: PathBuf,
        /// Where: gs://BUCKET/OBJECT (OBJECT defaults to the file's name).
        to: String,
        /// Create the bucket first if it does not exist.
        #[arg(long)]
        create_bucket: bool,
        /// Content type (default: from the file extension, else application/octet-stream).
        #[arg(long)]
        content_type: Option<String>,
        /// The stack directory whose local runtime to use.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Wait for what the upload started (workflow and job executions) and exit non-zero
        /// if one failed (always so without a `runform local serve`).
        #[arg(long)]
        wait: bool,
    },
}

/// The environment that points gcloud and Google's client libraries at the runtime at `url`:
/// every API endpoint overridden (plain HTTP), the runtime as gcloud's HTTP proxy (gcloud
/// turns an endpoint override into a regional host, `us-central1-127.0.0.1:PORT`, that only
/// the runtime knows; anything else sent through it, such as HTTPS to Google, is refused),
/// no credentials, and the project.
pub(super) fn local_env(url: &str, project: &str) -> anyhow::Result<String> {
    let base = url.trim_end_matches('/');
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--endpoint {url}: the local runtime speaks http://HOST:PORT"))?;
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("--endpoint {url}: give the port"))?;
    let mut vars = crate::runtime::executor::endpoint_env(base);
    vars.extend(
        [
            ("CLOUDSDK_PROXY_TYPE", "http"),
            ("CLOUDSDK_PROXY_ADDRESS", host),
            ("CLOUDSDK_PROXY_PORT", port),
            ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true"),
            ("CLOUDSDK_CORE_PROJECT", project),
            ("GOOGLE_CLOUD_PROJECT", project),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Ok(vars
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
        .collect())
}

/// A value as one shell word.
pub(super) fn shell_quote(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

pub(super) async fn upload(
    file: &Path,
    to: &str,
    create_bucket: bool,
    content_type: Option<String>,
    dir: &Path,
    wait: bool,
) -> anyhow::Result<i32> {
    let Some((bucket, object)) = to
        .strip_prefix("gs://")
        .map(|r| r.split_once('/').unwrap_or((r, "")))
    else {
        bail!("{to:?} is not a gs://BUCKET/OBJECT address");
    };
    // Like gsutil cp: an empty object name or one ending in '/' takes the file's name.
    let object = if object.is_empty() || object.ends_with('/') {
        let base = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload");
        format!("{object}{base}")
    } else {
        object.to_string()
    };
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let ct = content_type.unwrap_or_else(|| {
        match file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "txt" => "text/plain",
            "csv" => "text/csv",
            "json" => "application/json",
            _ => "application/octet-stream",
        }
        .to_string()
    });
    let t = ops::target(dir, true, None).await?;
    let r = async {
        if create_bucket {
            t.client
                .ensure_bucket(ops::LOCAL_DEFAULT_PROJECT, bucket)
                .await
                .with_context(|| format!("creating bucket {bucket}"))?;
        }
        let obj = t
            .client
            .upload_object(bucket, &object, &ct, data)
            .await
            .map_err(|e| {
                anyhow::anyhow!("{e}\nhint: create the bucket (or pass --create-bucket)")
            })?;
        let generation = obj["generation"].as_str().unwrap_or("").to_string();
        println!(
            "Uploaded gs://{bucket}/{object} ({} bytes, generation {generation}).",
            obj["size"].as_str().unwrap_or("?"),
        );
        // Without `runform local serve` the events are delivered by the runtime inside this
        // command, which must wait for what they start before it stops.
        let wait = wait || t.embedded.is_some();
        let failed =
            super::upload_events::follow(&t.client, bucket, &object, &generation, wait).await?;
        if let Some(server) = &t.embedded {
            // Anything else the events set off (an HTTP delivery's work) ends before the
            // runtime inside this command stops.
            while server.runtime.busy() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok::<i32, anyhow::Error>(if failed { 1 } else { 0 })
    }
    .await;
    t.stop().await;
    r
}

/// The token `runform local serve` requires: `--token VALUE`, a random one for a bare
/// `--token` (or the one already in the token file), or the token file's when one exists.
/// Written to the token file, 0600, in a 0700 directory.
pub(super) fn serve_token(local: &Path, flag: Option<String>) -> anyhow::Result<Option<String>> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = local.join("token");
    let existing = std::fs::read_to_string(&path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let token = match flag {
        Some(v) if !v.is_empty() => Some(v),
        Some(_) => Some(existing.clone().unwrap_or_else(|| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        })),
        None => existing.clone(),
    };
    let Some(token) = token else {
        return Ok(None);
    };
    std::fs::create_dir_all(local)?;
    std::fs::set_permissions(local, std::fs::Permissions::from_mode(0o700))?;
    if existing.as_deref() != Some(token.as_str()) {
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(token.as_bytes())?;
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(Some(token))
}

pub(super) async fn serve(
    addr: &str,
    data: Option<PathBuf>,
    dir: &Path,
    executor: crate::runtime::executor::ExecutorChoice,
    token: Option<String>,
) -> anyhow::Result<i32> {
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| anyhow!("--addr {addr:?}: {e}"))?;
    let local = ops::local_dir(dir);
    let data = data.unwrap_or_else(|| local.join("data"));
    let token = serve_token(&local, token)?;
    let server = crate::runtime::Server::start(
        crate::runtime::RuntimeConfig {
            data_dir: Some(data.clone()),
            executor,
            token: token.clone(),
            ..Default::default()
        },
        addr,
    )
    .await
    .map_err(|e| listen_error(e, addr))?;
    std::fs::create_dir_all(&local)?;
    let record = local.join("server.json");
    std::fs::write(
        &record,
        serde_json::to_vec(&ops::ServerRecord {
            url: server.url(),
            pid: std::process::id(),
        })?,
    )?;
    println!(
        "runform local runtime listening on {} (data in {})",
        server.url(),
        data.display()
    );
    println!("Tasks: {}", server.runtime.executor().description);
    if token.is_some() {
        println!(
            "Every call must carry the token in {} (X-Runform-Token, or Authorization: Bearer); runform's commands send it.",
            local.join("token").display()
        );
    }
    println!("Point Google's clients at it with api_endpoint={} and anonymous credentials; press Ctrl-C to stop.", server.url());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    eprintln!("stopping: cancelling running executions...");
    let _ = std::fs::remove_file(&record);
    server.stop().await;
    Ok(0)
}

/// A server that could not start, said with its address and what to do.
fn listen_error(e: anyhow::Error, addr: std::net::SocketAddr) -> anyhow::Error {
    let in_use = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    });
    if in_use {
        let other = format!("{}:{}", addr.ip(), addr.port().wrapping_add(1).max(1024));
        return anyhow!("cannot listen on {addr}: another program is using that address (another `runform local serve`?)\nhint: stop it, or serve on another port: `runform local serve --addr {other}` (or --addr {}:0 for any free port)", addr.ip());
    }
    anyhow!("cannot listen on {addr}: {e:#}")
}

/// `runform local ...`.
pub(super) async fn local_cmd(cmd: LocalCmd) -> anyhow::Result<i32> {
    match cmd {
        LocalCmd::Serve {
            addr,
            data,
            dir,
            executor,
            token,
        } => serve(&addr, data, &dir, executor, token).await,
        LocalCmd::Upload {
            file,
            to,
            create_bucket,
            content_type,
            dir,
            wait,
        } => upload(&file, &to, create_bucket, content_type, &dir, wait).await,
        LocalCmd::Env {
            endpoint,
            project,
            dir,
        } => {
            let url = match endpoint {
                Some(u) => u,
                None => ops::recorded_runtime_url(&dir)
                    .unwrap_or_else(|| "http://127.0.0.1:8790".into()),
            };
            print!("{}", local_env(&url, &project)?);
            Ok(0)
        }
    }
}
