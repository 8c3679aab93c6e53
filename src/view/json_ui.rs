//! Terraform's machine-readable UI (`plan -json`, `apply -json`): one JSON object per line
//! on stdout, each with `@level`, `@message`, `@module` ("terraform.ui"), `@timestamp` and
//! `type` — `version`, `planned_change`, `change_summary`, `apply_start`, `apply_progress`,
//! `apply_complete`, `apply_errored`, `outputs`, `diagnostic`, `log` — shaped as Terraform
//! 1.11's (checked against it in tests/it/day2.rs), so wrappers that read Terraform's stream
//! read runform's.
//!
//! runform's own action, executing a job, appears as action `execute` and as an `execute`
//! count in `change_summary.changes`; task log lines and execution progress are `log`
//! messages.

use crate::api::ext::LogEntry;
use crate::api::run::Execution;
use crate::diag::{Diagnostics, Sources};
use crate::plan::{Action, Change, Plan, Summary};
use crate::resources::Observer;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The version of Terraform's language and UI runform follows (the `terraform` field of the
/// `version` message; runform's own version is in `runform`).
pub const TERRAFORM_VERSION: &str = "1.11.4";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the stream on for this process (`-json` on plan, apply or destroy).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether this command speaks the stream.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Writes one message.
pub fn emit(level: &str, message: &str, ty: &str, fields: Value) {
    let mut m = Map::new();
    m.insert("@level".into(), json!(level));
    m.insert("@message".into(), json!(message));
    m.insert("@module".into(), json!("terraform.ui"));
    m.insert(
        "@timestamp".into(),
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    m.insert("type".into(), json!(ty));
    let line = Value::Object(m).to_string();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub fn version() {
    let ours = env!("CARGO_PKG_VERSION");
    emit(
        "info",
        &format!("runform {ours} (Terraform {TERRAFORM_VERSION} language)"),
        "version",
        json!({"terraform": TERRAFORM_VERSION, "runform": ours, "ui": "1.2"}),
    );
}

/// The `resource` object hooks and changes name a resource instance by.
pub fn resource(addr: &str) -> Value {
    let a = crate::config::address::Address::parse(addr);
    let (module, ty, name, key) = match &a {
        Some(a) => (
            a.module.clone(),
            a.ty.clone(),
            a.name.clone(),
            a.index.clone().unwrap_or(Value::Null),
        ),
        None => (String::new(), String::new(), addr.to_string(), Value::Null),
    };
    let resource = match module.is_empty() {
        true => addr.to_string(),
        false => addr
            .strip_prefix(&format!("{module}."))
            .unwrap_or(addr)
            .to_string(),
    };
    let provider = ty.split('_').next().unwrap_or("").to_string();
    json!({
        "addr": addr, "module": module, "resource": resource,
        "implied_provider": provider, "resource_type": ty, "resource_name": name,
        "resource_key": key,
    })
}

/// The action word Terraform's stream uses.
fn action_word(a: Action) -> &'static str {
    match a {
        Action::NoOp => "noop",
        Action::Create => "create",
        Action::Update | Action::StateOnly => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Execute => "execute",
        Action::Forget => "forget",
        Action::Adopt => "import",
    }
}

pub fn planned_change(c: &Change) {
    let verb = match c.action {
        Action::Forget => "Plan to forget".to_string(),
        Action::Adopt => "Plan to import".to_string(),
        a => format!("Plan to {}", action_word(a)),
    };
    emit(
        "info",
        &format!("{}: {verb}", c.addr),
        "planned_change",
        json!({"change": {"resource": resource(&c.addr), "action": action_word(c.action)}}),
    );
}

/// Every change of a plan, in the plan's order (dependencies first; for deletions,
/// dependents first), as Terraform's graph walk reports them.
pub fn planned_changes(plan: &Plan) {
    for c in plan.changes.iter().filter(|c| c.action.is_change()) {
        planned_change(c);
    }
}

/// `operation` is `plan`, `apply` or `destroy`; the message is Terraform's summary line.
pub fn change_summary(s: &Summary, operation: &str) {
    let import = if s.import > 0 {
        format!("{} to import, ", s.import)
    } else {
        String::new()
    };
    let execute = |word: &str| {
        if s.execute > 0 {
            format!(", {} {word}", s.execute)
        } else {
            String::new()
        }
    };
    let message = match operation {
        "plan" => format!(
            "Plan: {import}{} to add, {} to change, {} to destroy{}.",
            s.add,
            s.change,
            s.destroy,
            execute("to execute")
        ),
        "destroy" => format!("Destroy complete! Resources: {} destroyed.", s.destroy),
        _ => format!(
            "Apply complete! Resources: {}{} added, {} changed, {} destroyed{}.",
            if s.import > 0 {
                format!("{} imported, ", s.import)
            } else {
                String::new()
            },
            s.add,
            s.change,
            s.destroy,
            execute("executed")
        ),
    };
    let mut changes = json!({
        "add": s.add, "change": s.change, "import": s.import, "remove": s.destroy,
        "operation": operation,
    });
    if s.execute > 0 {
        changes["execute"] = json!(s.execute);
    }
    if s.forget > 0 {
        changes["forget"] = json!(s.forget);
    }
    emit(
        "info",
        &message,
        "change_summary",
        json!({ "changes": changes }),
    );
}

/// Outputs: after a plan, each one's action; after an apply, each one's value and type.
pub fn outputs(outputs: Map<String, Value>) {
    if outputs.is_empty() {
        return;
    }
    emit(
        "info",
        &format!("Outputs: {}", outputs.len()),
        "outputs",
        json!({ "outputs": outputs }),
    );
}

/// The state's outputs as `apply -json` ends with them (sensitive values left out).
pub fn applied_outputs(state: &crate::state::State) {
    let all = state
        .outputs
        .iter()
        .map(|(k, v)| {
            let sensitive = state.sensitive_outputs.contains(k);
            let mut o = json!({
                "sensitive": sensitive,
                "type": state.output_types.get(k).cloned().unwrap_or_else(|| crate::plan::json::type_of(v)),
            });
            if !sensitive {
                o["value"] = v.clone();
            }
            (k.clone(), o)
        })
        .collect();
    outputs(all);
}

pub fn diagnostics(sources: &Sources, diags: &Diagnostics) {
    for d in diags.sorted() {
        let j = sources.to_json(d);
        let level = j["severity"].as_str().unwrap_or("error").to_string();
        let title = if level == "error" { "Error" } else { "Warning" };
        emit(
            &level,
            &format!("{title}: {}", d.summary),
            "diagnostic",
            json!({ "diagnostic": j }),
        );
    }
}

/// An error that is not about a place in the configuration (its first line is the summary,
/// the rest the detail).
pub fn error(text: &str) {
    let (summary, detail) = text.split_once('\n').unwrap_or((text, ""));
    emit(
        "error",
        &format!("Error: {summary}"),
        "diagnostic",
        json!({"diagnostic": {"severity": "error", "summary": summary, "detail": detail}}),
    );
}

pub fn log(message: &str) {
    emit("info", message, "log", json!({}));
}

/// How apply's hooks say an action: (start, still, complete, errored).
fn hook_words(a: Action) -> (&'static str, &'static str, &'static str, &'static str) {
    match a {
        Action::Create => (
            "Creating...",
            "Still creating...",
            "Creation complete",
            "Creation errored",
        ),
        Action::Update | Action::StateOnly | Action::NoOp => (
            "Modifying...",
            "Still modifying...",
            "Modifications complete",
            "Modifications errored",
        ),
        Action::Delete => (
            "Destroying...",
            "Still destroying...",
            "Destruction complete",
            "Destruction errored",
        ),
        Action::Replace => (
            "Replacing...",
            "Still replacing...",
            "Replacement complete",
            "Replacement errored",
        ),
        Action::Execute => (
            "Executing...",
            "Still executing...",
            "Execution complete",
            "Execution errored",
        ),
        Action::Forget => (
            "Forgetting...",
            "Still forgetting...",
            "Forgetting complete",
            "Forgetting errored",
        ),
        Action::Adopt => (
            "Importing...",
            "Still importing...",
            "Import complete",
            "Import errored",
        ),
    }
}

/// Apply's progress as the stream's hook messages.
pub struct JsonObserver {
    quiet: bool,
    last: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl JsonObserver {
    pub fn new() -> Self {
        JsonObserver {
            quiet: super::ui().quiet,
            last: Default::default(),
        }
    }
}

impl Default for JsonObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for JsonObserver {
    fn note(&self, msg: &str) {
        log(msg);
    }

    fn execution_progress(&self, addr: &str, e: &Execution, elapsed: Duration) {
        let status = format!(
            "{addr}: execution {}: {}",
            e.short_name(),
            super::progress::task_counts(e)
        );
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.get(addr) != Some(&status) {
            log(&format!("{status} [{}s elapsed]", elapsed.as_secs()));
            last.insert(addr.to_string(), status);
        }
    }

    fn wants_task_logs(&self) -> bool {
        !self.quiet
    }

    fn task_log(&self, addr: &str, entry: &LogEntry) {
        let attempt = match entry.attempt {
            0 => String::new(),
            n => format!(" attempt {n}"),
        };
        log(&format!(
            "{addr}: [task {}{attempt}] {}",
            entry.task, entry.line
        ));
    }

    fn action_start(&self, addr: &str, action: Action, prior_id: Option<&str>) {
        let (start, ..) = hook_words(action);
        let mut hook = json!({"resource": resource(addr), "action": action_word(action)});
        let mut message = format!("{addr}: {start}");
        if let Some(id) = prior_id.filter(|_| action != Action::Create) {
            hook["id_key"] = json!("id");
            hook["id_value"] = json!(id);
            message.push_str(&format!(" [id={id}]"));
        }
        emit("info", &message, "apply_start", json!({ "hook": hook }));
    }

    fn action_progress(&self, addr: &str, action: Action, secs: u64) {
        let (_, still, ..) = hook_words(action);
        emit(
            "info",
            &format!("{addr}: {still} [{secs}s elapsed]"),
            "apply_progress",
            json!({"hook": {"resource": resource(addr), "action": action_word(action), "elapsed_seconds": secs}}),
        );
    }

    fn action_complete(&self, addr: &str, action: Action, id: Option<&str>, secs: u64) {
        let (_, _, done, _) = hook_words(action);
        let mut hook = json!({"resource": resource(addr), "action": action_word(action)});
        let mut message = format!("{addr}: {done} after {secs}s");
        if let Some(id) = id.filter(|_| action != Action::Delete && action != Action::Forget) {
            hook["id_key"] = json!("id");
            hook["id_value"] = json!(id);
            message.push_str(&format!(" [id={id}]"));
        }
        hook["elapsed_seconds"] = json!(secs);
        emit("info", &message, "apply_complete", json!({ "hook": hook }));
    }

    fn action_errored(&self, addr: &str, action: Action, secs: u64) {
        let (.., errored) = hook_words(action);
        emit(
            "error",
            &format!("{addr}: {errored} after {secs}s"),
            "apply_errored",
            json!({"hook": {"resource": resource(addr), "action": action_word(action), "elapsed_seconds": secs}}),
        );
    }
}
