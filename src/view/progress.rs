//! Progress on stderr while apply and `run --wait` work (data stays on stdout): each action's
//! start and end, and for every execution waited on, its task counts and elapsed time, with
//! the tasks' log lines streamed as they are written.
//!
//! On a terminal the execution status is one line redrawn in place, under the log lines; in
//! a CI log (no terminal) it is a plain line each time the counts change and at least every
//! `RUNFORM_PROGRESS_EVERY` (10s by default) while nothing changes, so a long wait is never
//! silent.

use crate::api::ext::LogEntry;
use crate::api::run::Execution;
use crate::resources::Observer;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct StderrObserver {
    pub verbose: bool,
    /// Task log lines are not shown.
    quiet: bool,
    /// stderr is a terminal: the status line is redrawn in place.
    live: bool,
    /// Plain mode: the status is repeated at least this often.
    heartbeat: Duration,
    shown: Mutex<Shown>,
}

#[derive(Default)]
struct Shown {
    /// Per execution being waited on (by address): its last status and when it was printed.
    last: BTreeMap<String, (String, Instant)>,
    /// Terminal mode: the status lines currently drawn at the bottom.
    live_lines: BTreeMap<String, String>,
    /// Terminal mode: whether a status line is on screen (to be cleared before printing).
    drawn: bool,
}

impl StderrObserver {
    /// Progress as the command line's settings say (`--quiet`; a terminal or not).
    pub fn new(verbose: bool) -> Self {
        let heartbeat = std::env::var("RUNFORM_PROGRESS_EVERY")
            .ok()
            .and_then(|v| crate::api::common::parse_go_duration(&v).ok())
            .unwrap_or(Duration::from_secs(10));
        StderrObserver {
            verbose,
            quiet: super::ui().quiet,
            live: std::io::stderr().is_terminal()
                && std::env::var("TERM").map_or(true, |t| t != "dumb"),
            heartbeat,
            shown: Mutex::new(Shown::default()),
        }
    }

    fn shown(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Prints `line` on stderr; in terminal mode, above the status lines.
    fn print(&self, shown: &mut Shown, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.live && shown.drawn {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "{line}");
        if self.live {
            self.redraw(shown, &mut err);
        }
    }

    fn redraw(&self, shown: &mut Shown, err: &mut impl Write) {
        let status: Vec<&str> = shown.live_lines.values().map(String::as_str).collect();
        if status.is_empty() {
            shown.drawn = false;
            return;
        }
        let _ = write!(err, "\r\x1b[2K{}", status.join(" | "));
        let _ = err.flush();
        shown.drawn = true;
    }
}

/// "1 running, 2 succeeded, 0 failed of 3 tasks (1 retried)".
pub fn task_counts(e: &Execution) -> String {
    let mut s = format!(
        "{} running, {} succeeded, {} failed",
        e.running_count, e.succeeded_count, e.failed_count
    );
    if e.cancelled_count > 0 {
        s.push_str(&format!(", {} cancelled", e.cancelled_count));
    }
    s.push_str(&format!(
        " of {} task{}",
        e.task_count,
        if e.task_count == 1 { "" } else { "s" }
    ));
    if e.retried_count > 0 {
        s.push_str(&format!(" ({} retried)", e.retried_count));
    }
    s
}

impl Observer for StderrObserver {
    fn note(&self, msg: &str) {
        let mut shown = self.shown();
        self.print(&mut shown, msg);
    }

    fn execution_progress(&self, addr: &str, e: &Execution, elapsed: Duration) {
        let status = format!("{addr}: execution {}: {}", e.short_name(), task_counts(e));
        let line = format!("{status} [{}s elapsed]", elapsed.as_secs());
        let mut shown = self.shown();
        if self.live {
            if e.is_done() {
                shown.live_lines.remove(addr);
                self.print(&mut shown, &line);
            } else {
                shown.live_lines.insert(addr.to_string(), line);
                let mut err = std::io::stderr().lock();
                self.redraw(&mut shown, &mut err);
            }
            return;
        }
        let now = Instant::now();
        let due = match shown.last.get(addr) {
            Some((s, at)) => *s != status || now.duration_since(*at) >= self.heartbeat,
            None => true,
        };
        if due {
            shown.last.insert(addr.to_string(), (status, now));
            self.print(&mut shown, &line);
        }
    }

    fn wants_task_logs(&self) -> bool {
        !self.quiet
    }

    fn task_log(&self, addr: &str, entry: &LogEntry) {
        let attempt = if entry.attempt > 0 {
            format!(" attempt {}", entry.attempt)
        } else {
            String::new()
        };
        let line = format!("{addr}: [task {}{attempt}] {}", entry.task, entry.line);
        let mut shown = self.shown();
        self.print(&mut shown, &line);
    }
}
