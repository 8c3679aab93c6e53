//! Finishing resource instances on a second thread while the loader evaluates the next ones:
//! a lowered configuration value → runform's internal values (`to_internal`, the type's
//! `derive`), then the type's validation. Evaluation itself is sequential (expressions read
//! what earlier blocks produced); this is the per-instance work that reads nothing else, and
//! a 10,000-job stack spends a third of its loading time in it.
//!
//! Instances reach the finisher in evaluation order and leave it in that order, so the
//! stack's resources and diagnostics are the same as when finished inline.

use super::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostics, Range};
use crate::lang::Value as Val;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender};

/// An instance to finish.
pub(super) enum Work {
    /// Still a configuration value: its internal values are computed here.
    Lowered {
        rc: Box<ResourceConfig>,
        config: Val,
        info: &'static dyn TypeInfo,
        provider: Box<Provider>,
        prior: Option<Box<Map<String, Value>>>,
        checks: Checks,
    },
    /// Values already computed (something reads its planned value): only checked here.
    Ready {
        rc: Box<ResourceConfig>,
        info: &'static dyn TypeInfo,
        checks: Checks,
    },
}

/// What to do with an instance once its values are known.
#[derive(Clone, Copy)]
pub(super) struct Checks {
    /// Run the type's validation (not when its arguments already failed to evaluate).
    pub validate: bool,
    /// Keep it in the stack (not a `validate`-time instance of unknown key).
    pub keep: bool,
}

enum Msg {
    Work(Box<Work>),
    /// Reply once everything sent before is finished.
    Flush,
}

/// What comes back: a finished instance (if kept) with its diagnostics, or the end of a flush.
enum Done {
    Instance(Option<Box<ResourceConfig>>, Diagnostics),
    Flushed,
}

pub(super) struct Finisher {
    to_worker: SyncSender<Msg>,
    from_worker: Receiver<Done>,
}

impl Finisher {
    /// Starts the worker in `scope`; it ends when the finisher is dropped.
    pub fn start<'scope>(scope: &'scope std::thread::Scope<'scope, '_>) -> Finisher {
        // Bounded: the loader runs ahead by at most this many instances (memory stays flat).
        let (to_worker, work) = std::sync::mpsc::sync_channel::<Msg>(256);
        let (done, from_worker) = std::sync::mpsc::channel::<Done>();
        scope.spawn(move || {
            for msg in work {
                let out = match msg {
                    Msg::Work(w) => {
                        let (rc, diags) = finish(*w);
                        Done::Instance(rc, diags)
                    }
                    Msg::Flush => Done::Flushed,
                };
                if done.send(out).is_err() {
                    return;
                }
            }
        });
        Finisher {
            to_worker,
            from_worker,
        }
    }

    pub fn send(&self, w: Work) {
        // The worker only stops when the finisher is dropped; a send error cannot happen
        // while it lives, and there is nothing to do if it did.
        let _ = self.to_worker.send(Msg::Work(Box::new(w)));
    }

    /// Waits for everything sent so far; returns the finished instances in order, or `None`
    /// if the worker is gone (it panicked): then instances may be missing, and the stack
    /// must not be used.
    pub fn flush(&self) -> Option<Vec<(Option<Box<ResourceConfig>>, Diagnostics)>> {
        let mut out = Vec::new();
        self.to_worker.send(Msg::Flush).ok()?;
        loop {
            match self.from_worker.recv().ok()? {
                Done::Instance(rc, diags) => out.push((rc, diags)),
                Done::Flushed => return Some(out),
            }
        }
    }
}

/// Finishes one instance (also used inline, without a worker).
pub(super) fn finish(w: Work) -> (Option<Box<ResourceConfig>>, Diagnostics) {
    let (mut rc, info, checks) = match w {
        Work::Lowered {
            mut rc,
            config,
            info,
            provider,
            prior,
            checks,
        } => {
            let (values, unknown, sensitive) =
                internal_values(info, &config, &provider, prior.as_deref(), &rc.addr);
            rc.values = values;
            rc.unknown = unknown;
            rc.sensitive = sensitive;
            (rc, info, checks)
        }
        Work::Ready { rc, info, checks } => (rc, info, checks),
    };
    let mut diags = Diagnostics::default();
    if checks.validate {
        validate(info, &rc, &mut diags);
    }
    // Spans serve validation only; dropping them keeps a large stack small.
    rc.spans = BTreeMap::new();
    (checks.keep.then_some(rc), diags)
}

/// A lowered configuration value as runform's internal values: JSON, with the paths of
/// what is known only after apply and of what is sensitive; derived arguments filled in.
pub(super) fn internal_values(
    info: &dyn TypeInfo,
    config: &Val,
    provider: &Provider,
    prior: Option<&Map<String, Value>>,
    addr: &str,
) -> (Value, Vec<String>, Vec<String>) {
    let internal = info.schema().to_internal(config);
    let mut values = match internal.json {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut unknown = internal.unknown;
    let mut d = Derive {
        values: &mut values,
        unknown: &mut unknown,
        prior,
        addr,
    };
    info.derive(&mut d, provider);
    // The provider's `deletion_policy` (Terraform-only) defaults to DELETE wherever it exists.
    if info.schema().attr("deletion_policy").is_some() {
        d.default("deletion_policy", Some(Value::String("DELETE".into())));
    }
    // Growing the map in derive left it with spare room (10,000 resources notice):
    // collecting again sizes it exactly.
    let values = Value::Object(values.into_iter().collect());
    (values, unknown, internal.sensitive)
}

/// Runs a resource type's checks; what they say about values known only after apply is
/// dropped (the API judges those, or the check runs again during apply).
pub(super) fn validate(info: &dyn TypeInfo, rc: &ResourceConfig, diags: &mut Diagnostics) {
    let n = diags.0.len();
    if let Some(p) = rc.values.get("deletion_policy").and_then(Value::as_str) {
        if !["DELETE", "ABANDON", "PREVENT"].contains(&p) {
            diags.push(crate::diag::Diagnostic::error(
                format!(
                    "{}: deletion_policy {p:?} is not one of DELETE, ABANDON, PREVENT",
                    rc.addr
                ),
                Some(rc.span("deletion_policy")),
            ));
        }
    }
    info.validate(rc, diags);
    if rc.unknown.is_empty() {
        return;
    }
    let unknown_spans: Vec<&Range> = rc.unknown.iter().filter_map(|p| rc.spans.get(p)).collect();
    let mut k = n;
    while k < diags.0.len() {
        let at_unknown = diags.0[k]
            .range
            .as_ref()
            .is_some_and(|r| unknown_spans.contains(&r));
        if at_unknown {
            diags.0.remove(k);
        } else {
            k += 1;
        }
    }
}
