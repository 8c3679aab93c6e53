//! Which target a command talks to: Google Cloud, the local runtime (`--local`) or an
//! endpoint (`--endpoint URL`). A stack remembers the target it was last applied to
//! (`.runform/last-target`), and the day-2 commands (`output`, `state`, `executions`, `logs`,
//! `run`, `cancel`, `console`) use it when no flag names one, saying so. When the chosen
//! target's state is empty and another's is not, they say which flag reaches it.

use super::args::TargetArgs;
use crate::ops;
use std::path::{Path, PathBuf};

/// Which target a command talks to, as a saved plan records it: `google`, `local`, or
/// `endpoint URL`.
pub(super) fn target_key(t: &TargetArgs) -> String {
    match (&t.endpoint, t.local) {
        (Some(url), _) => format!("endpoint {}", url.trim_end_matches('/')),
        (None, true) => "local".into(),
        (None, false) => "google".into(),
    }
}

/// The flags that select a target key's target (for messages).
pub(super) fn target_flags(t: &TargetArgs) -> String {
    match (&t.endpoint, t.local) {
        (Some(url), _) => format!("--endpoint {url} "),
        (None, true) => "--local ".into(),
        (None, false) => String::new(),
    }
}

/// The flag that selects a target key's target.
fn flag_of(key: &str) -> String {
    match key {
        "google" => "--google".into(),
        "local" => "--local".into(),
        other => format!("--endpoint {}", other.trim_start_matches("endpoint ")),
    }
}

/// What a target key means, in words.
pub(super) fn target_words(key: &str) -> String {
    match key {
        "google" => "Google Cloud".into(),
        "local" => "the local runtime (--local)".into(),
        other => other.replacen("endpoint ", "the endpoint ", 1),
    }
}

fn memory_file(dir: &Path) -> PathBuf {
    dir.join(".runform").join("last-target")
}

/// Records that the stack was applied to `t` (called once apply has written state).
pub(super) fn remember(dir: &Path, t: &TargetArgs) {
    let file = memory_file(dir);
    if let Some(parent) = file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(file, format!("{}\n", target_key(t)));
}

/// The target the stack was last applied to, if it remembers one.
fn remembered(dir: &Path) -> Option<String> {
    let key = std::fs::read_to_string(memory_file(dir)).ok()?;
    let key = key.trim();
    (key == "google" || key == "local" || key.starts_with("endpoint http")).then(|| key.into())
}

fn args_for(key: &str, like: &TargetArgs) -> TargetArgs {
    let mut t = like.clone();
    t.local = key == "local";
    t.endpoint = key.strip_prefix("endpoint ").map(str::to_string);
    t.google = key == "google";
    t
}

/// A day-2 command's target: the one its flags name, else the one the stack was last applied
/// to (said on stderr), else Google Cloud.
pub(super) fn day2(dir: &Path, t: &TargetArgs) -> TargetArgs {
    if t.local || t.endpoint.is_some() || t.google {
        return t.clone();
    }
    match remembered(dir) {
        Some(key) if key != "google" => {
            eprintln!(
                "Using {}, where this stack was last applied (pass --google or --endpoint URL for another target).",
                target_words(&key)
            );
            args_for(&key, t)
        }
        _ => t.clone(),
    }
}

/// How many resources the state of `key`'s target holds (file states only; a gcs backend's
/// state is not looked at here).
fn resources_in(dir: &Path, key: &str) -> usize {
    let Ok(backend) = crate::config::backend::read(dir) else {
        return 0;
    };
    if matches!(backend, Some(crate::config::backend::Backend::Gcs { .. })) {
        return 0;
    }
    let t = args_for(key, &empty_args());
    let base = ops::file_state_base(dir, t.local, t.endpoint.as_deref(), backend.as_ref());
    let file = ops::workspace_file(&base, &ops::current_workspace(dir));
    crate::state::StateFile::new(file)
        .load()
        .map(|s| s.resources.len())
        .unwrap_or(0)
}

fn empty_args() -> TargetArgs {
    TargetArgs {
        local: false,
        endpoint: None,
        google: false,
        verbose: false,
        lock_timeout: std::time::Duration::ZERO,
        lock: true,
    }
}

/// When the state of `t`'s target is empty: which other target's state is not, and the flag
/// that reaches it, as a `hint:` line.
pub(super) fn elsewhere_hint(dir: &Path, t: &TargetArgs) -> Option<String> {
    let chosen = target_key(t);
    let mut keys = vec!["local".to_string(), "google".to_string()];
    keys.extend(remembered(dir));
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| *k != chosen)
        .map(|k| (resources_in(dir, &k), k))
        .find(|(n, _)| *n > 0)
        .map(|(n, k)| {
            format!(
                "hint: the state of {} is empty, but the state of {} holds {n} resource(s): pass {}",
                target_words(&chosen),
                target_words(&k),
                flag_of(&k)
            )
        })
}
