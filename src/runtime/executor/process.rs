//! The process executor: an attempt runs as a local process in its own process group, with the
//! contract's environment and nothing else of the runtime's; past its timeout or on cancel the
//! group gets SIGTERM, then SIGKILL after the grace period.

use super::{wait_cancel, Attempt, LogSink, Outcome};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

/// Runs `argv` for `a` and reports how it ended.
pub async fn run(
    a: &Attempt<'_>,
    argv: &[String],
    cwd: Option<PathBuf>,
    cancel: &mut watch::Receiver<bool>,
) -> Outcome {
    if !a.container.volume_mounts.is_empty() {
        a.log
            .write(
                "runform",
                "volumes are mounted only by the docker executor; this task runs as a local process without them",
            )
            .await;
    }
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &a.work_dir)
        .envs(a.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd.unwrap_or_else(|| a.work_dir.clone()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("could not start {:?}: {e}", argv[0]);
            return Outcome::start_failure(&a.log, msg).await;
        }
    };
    let pid = child.id();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(out, "stdout", a.log.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(err, "stderr", a.log.clone())));
    }
    let outcome = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => {
                use std::os::unix::process::ExitStatusExt;
                match (s.code(), s.signal()) {
                    (Some(code), _) => Outcome::of_exit(code.into()),
                    (None, sig) => Outcome::Failed {
                        exit_code: None,
                        signal: sig,
                        message: format!("The container was terminated by signal {}.", sig.unwrap_or(0)),
                        retryable: true,
                    },
                }
            }
            Err(e) => Outcome::Failed { exit_code: None, signal: None, message: format!("waiting for the task failed: {e}"), retryable: true },
        },
        _ = tokio::time::sleep(a.timeout) => {
            let sig = terminate(pid, &mut child, a.grace).await;
            Outcome::timed_out(sig, &a.timeout_text)
        }
        _ = wait_cancel(cancel) => {
            terminate(pid, &mut child, a.grace).await;
            Outcome::Cancelled
        }
    };
    for r in readers {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), r).await;
    }
    outcome
}

/// SIGTERM to the process group, then SIGKILL after the grace period. Returns the signal that
/// ended it.
async fn terminate(
    pid: Option<u32>,
    child: &mut tokio::process::Child,
    grace: std::time::Duration,
) -> i32 {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let Some(pid) = pid else { return 9 };
    let pgid = Pid::from_raw(pid as i32);
    let _ = killpg(pgid, Signal::SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(_) => {
            let _ = killpg(pgid, Signal::SIGKILL);
            15
        }
        Err(_) => {
            let _ = killpg(pgid, Signal::SIGKILL);
            let _ = child.wait().await;
            9
        }
    }
}

async fn pump<R: tokio::io::AsyncRead + Unpin>(r: R, stream: &'static str, log: LogSink) {
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log.write_line(stream, &line).await;
    }
    log.flush().await;
}
