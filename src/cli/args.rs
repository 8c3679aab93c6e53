//! The flags commands share (target, variables, plan selection, apply), and Terraform's
//! single-dash spellings of them.

use crate::ops::LoadArgs;
use anyhow::anyhow;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Clone)]
pub(super) struct TargetArgs {
    /// Use the bundled local runtime (a running `runform local serve` for this stack, or one started inside the command).
    #[arg(long, global = true)]
    pub(super) local: bool,
    /// Send every API call to this base URL, without auth (any REST emulator).
    #[arg(long, env = "RUNFORM_ENDPOINT", global = true)]
    pub(super) endpoint: Option<String>,
    /// Use Google Cloud (the default, except where a day-2 command follows the target the
    /// stack was last applied to).
    #[arg(long, global = true, conflicts_with_all = ["local", "endpoint"])]
    pub(super) google: bool,
    /// Print API call counts and other details.
    #[arg(long, short, global = true)]
    pub(super) verbose: bool,
    /// How long a state-changing command waits for another run's state lock (e.g. 30s, 5m).
    #[arg(long, global = true, default_value = "0s", value_parser = parse_duration)]
    pub(super) lock_timeout: Duration,
    /// Terraform's `-lock=false`: change the state without holding its lock (only when
    /// nothing else can be changing it).
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "true", action = clap::ArgAction::Set)]
    pub(super) lock: bool,
}

/// `500ms`, `30s`, `5m`, `1h` (a bare number is seconds).
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return crate::api::common::parse_go_duration(&format!("{s}s"));
    }
    crate::api::common::parse_go_duration(s)
}

#[derive(Args, Clone)]
pub(super) struct VarArgs {
    /// Set a variable: --var name=value (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub(super) vars: Vec<String>,
    /// Read variables from a .tfvars file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub(super) var_files: Vec<PathBuf>,
}

#[derive(Args, Clone, Default)]
pub(super) struct PlanArgs {
    /// Plan only this address (and what it needs); repeatable. `x` selects all of x's
    /// instances, `module.m` everything inside the module.
    #[arg(long = "target", value_name = "ADDR")]
    pub(super) targets: Vec<String>,
    /// Destroy and re-create this resource instance even if nothing changed; repeatable.
    #[arg(long = "replace", value_name = "ADDR")]
    pub(super) replace: Vec<String>,
    /// Only record what changed outside runform (objects deleted outside leave the state);
    /// change nothing.
    #[arg(long)]
    pub(super) refresh_only: bool,
    /// Terraform's `-refresh`: runform always reads the live objects, so only `true` is
    /// accepted.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "true", action = clap::ArgAction::Set)]
    pub(super) refresh: bool,
}

impl PlanArgs {
    /// Refuses what runform cannot do as asked.
    pub(super) fn check(&self) -> anyhow::Result<()> {
        if !self.refresh {
            anyhow::bail!("-refresh=false: runform always reads the live objects it plans against\nhint: drop -refresh=false (or use -refresh-only to record drift alone)");
        }
        Ok(())
    }

    pub(super) fn options(&self, destroy: bool) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            destroy,
            targets: self.targets.clone(),
            replace: self.replace.clone(),
            refresh_only: self.refresh_only,
            imports: Vec::new(),
        }
    }
}

#[derive(Args, Clone)]
pub(super) struct ApplyArgs {
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub(super) auto_approve: bool,
    /// At most this many actions at once.
    #[arg(long, default_value_t = 10)]
    pub(super) parallelism: usize,
    /// Terraform's machine-readable UI on stdout: one JSON object per line (version,
    /// planned_change, apply_start/progress/complete/errored, change_summary, outputs,
    /// diagnostic, log). Needs --auto-approve or a saved plan.
    #[arg(long)]
    pub(super) json: bool,
}

pub(super) fn parse_vars(v: &VarArgs, local: bool) -> anyhow::Result<LoadArgs> {
    let vars = v
        .vars
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("--var {s:?}: expected NAME=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(LoadArgs {
        vars,
        var_files: v.var_files.clone(),
        local,
        ..Default::default()
    })
}

/// Terraform's single-dash long flags (`-json`, `-var=x`, `-out plan`) as runform's
/// double-dash ones, so CI scripts written for Terraform run unchanged. Only flag names
/// runform has are rewritten; everything after `--` is left alone.
pub fn terraform_style_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "json",
        "plan",
        "var",
        "var-file",
        "out",
        "auto-approve",
        "target",
        "replace",
        "refresh-only",
        "detailed-exitcode",
        "lock-timeout",
        "parallelism",
        "raw",
        "destroy",
        "check",
        "diff",
        "recursive",
        "force",
        "no-color",
        "format",
        "input",
        "quiet",
        "lock",
        "refresh",
        "compact-warnings",
        "chdir",
        "or-create",
        "upgrade",
        "reconfigure",
        "backend",
        "backend-config",
        "get",
    ];
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        if rest || a == "--" {
            rest = true;
            out.push(a);
            continue;
        }
        let name = a
            .strip_prefix('-')
            .filter(|n| !n.starts_with('-'))
            .map(|n| n.split_once('=').map_or(n, |(k, _)| k));
        match name {
            Some(n) if LONG.contains(&n) => out.push(format!("-{a}")),
            _ => out.push(a),
        }
    }
    out
}

pub(super) fn is_local(t: &TargetArgs) -> bool {
    t.local && t.endpoint.is_none()
}
