//! Rendering: the human plan (deterministic, no timestamps or random IDs, sensitive values
//! masked), the summary line, and apply progress. Computes nothing.

use crate::model::change::path_in;
use crate::plan::{Action, Plan};
use serde_json::Value;
use std::fmt::Write;
use std::io::IsTerminal;

pub mod json_ui;
mod progress;
mod ui;
pub use progress::StderrObserver;
pub use ui::{set_ui, ui, Ui};

pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn detect() -> Style {
        Style {
            color: ui().color
                && std::env::var_os("NO_COLOR").is_none()
                && std::io::stdout().is_terminal(),
        }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn mask(s: &str, sensitive: &[String]) -> String {
    let mut out = s.to_string();
    for v in sensitive.iter().filter(|v| v.len() >= 3) {
        out = out.replace(v.as_str(), "(sensitive value)");
    }
    out
}

fn show(v: &Option<Value>, sensitive: &[String]) -> String {
    match v {
        None | Some(Value::Null) => "null".into(),
        Some(Value::String(s)) => {
            let m = mask(s, sensitive);
            if m != *s && m == "(sensitive value)" {
                m
            } else {
                crate::lang::value::go_quote(&m)
            }
        }
        Some(other) => mask(&other.to_string(), sensitive),
    }
}

fn symbol(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Create => ("+", "32"),
        Action::Update | Action::StateOnly => ("~", "33"),
        Action::Replace => ("-/+", "31"),
        Action::Delete => ("-", "31"),
        Action::Execute => ("!", "36"),
        Action::Forget => ("·", "2"),
        Action::Adopt => ("=", "36"),
        Action::NoOp => (" ", "0"),
    }
}

fn headline(a: Action) -> &'static str {
    match a {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::StateOnly => "will be updated in state only",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::Execute => "will be executed",
        Action::Forget => "will be removed from state",
        Action::Adopt => "will be adopted (created by an interrupted apply)",
        Action::NoOp => "has no changes",
    }
}

/// Flattens Terraform values for the "create" listing.
fn flatten(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(x, &p, out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, &format!("{path}[{i}]"), out);
            }
        }
        other => out.push((path.to_string(), other.clone())),
    }
}

fn multiline_diff(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => "-",
            similar::ChangeTag::Insert => "+",
            similar::ChangeTag::Equal => " ",
        };
        let _ = write!(out, "          {sign} {}", change);
        if !change.to_string().ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn render_attrs(
    out: &mut String,
    attrs: &[crate::plan::AttrChange],
    sens: &[String],
    style: &Style,
) {
    let width = attrs.iter().map(|a| a.path.len()).max().unwrap_or(0);
    for a in attrs {
        let (sym, col) = match (&a.old, &a.new, a.unknown) {
            (None, Some(_), _) | (None, None, true) => ("+", "32"),
            (Some(_), None, false) => ("-", "31"),
            _ => ("~", "33"),
        };
        if a.sensitive || a.unknown {
            let old = if a.sensitive && a.old.is_some() {
                "(sensitive value)".to_string()
            } else {
                show(&a.old, sens)
            };
            let new = if a.unknown {
                "(known after apply)".to_string()
            } else {
                "(sensitive value)".to_string()
            };
            let line = if a.old.is_none() {
                new
            } else {
                format!("{old} -> {new}")
            };
            let _ = writeln!(
                out,
                "      {} {:width$} = {line}",
                style.paint(col, sym),
                a.path
            );
            continue;
        }
        match (&a.old, &a.new) {
            (Some(Value::String(o)), Some(Value::String(n)))
                if (o.contains('\n') || n.contains('\n'))
                    && mask(o, sens) == *o
                    && mask(n, sens) == *n =>
            {
                let _ = writeln!(out, "      {} {} = <<-EOT", style.paint(col, sym), a.path);
                out.push_str(&multiline_diff(o, n));
                let _ = writeln!(out, "        EOT");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "      {} {:width$} = {} -> {}",
                    style.paint(col, sym),
                    a.path,
                    show(&a.old, sens),
                    show(&a.new, sens)
                );
            }
        }
    }
}

/// The "changed outside runform" section (empty when nothing drifted).
fn render_drift(plan: &Plan, style: &Style) -> String {
    let mut out = String::new();
    if plan.drift.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "Objects changed outside runform since the last apply:\n"
    );
    for d in &plan.drift {
        let name = crate::config::address::Address::parse(&d.addr)
            .map(|a| a.name)
            .unwrap_or_default();
        if d.deleted {
            let _ = writeln!(out, "  # {} has been deleted", d.addr);
            let _ = writeln!(
                out,
                "  {} resource {:?} {:?} {{\n    }}\n",
                style.paint("31", "-"),
                d.ty,
                name
            );
        } else {
            let _ = writeln!(out, "  # {} has been changed", d.addr);
            let _ = writeln!(
                out,
                "  {} resource {:?} {:?} {{",
                style.paint("33", "~"),
                d.ty,
                name
            );
            render_attrs(&mut out, &d.attrs, &plan.sensitive_values, style);
            let _ = writeln!(out, "    }}\n");
        }
    }
    if plan.refresh_only {
        let _ = writeln!(
            out,
            "This is a refresh-only plan: runform will not undo these changes.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "Unless the configuration is changed to match, the plan below reverts them.\n"
        );
    }
    out
}

pub fn render_plan(plan: &Plan, style: &Style) -> String {
    let mut out = render_drift(plan, style);
    if plan.targeted {
        let _ = writeln!(
            out,
            "{} resource targeting is in effect: this plan may not contain every change the configuration needs; use --target for exceptional situations only.\n",
            style.paint("33", "Warning:")
        );
    }
    let sens = &plan.sensitive_values;
    let changes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .collect();
    if !changes.is_empty() || !plan.moves.is_empty() {
        let _ = writeln!(out, "runform will perform the following actions:\n");
    }
    for (from, to) in &plan.moves {
        let _ = writeln!(
            out,
            "  {} has moved to {to}\n",
            style.paint("1", &format!("# {from}"))
        );
    }
    for c in changes {
        let (sym, color) = symbol(c.action);
        let head = match (&c.import_id, c.action) {
            (Some(_), Action::Adopt) => "will be imported",
            (Some(_), Action::Update) => "will be imported and updated in-place",
            _ => headline(c.action),
        };
        let _ = writeln!(
            out,
            "  {} {head}",
            style.paint("1", &format!("# {}", c.addr))
        );
        if let Some(r) = &c.reason {
            let _ = writeln!(out, "    (because {})", mask(r, sens));
        }
        let _ = writeln!(
            out,
            "  {} resource {:?} {:?} {{",
            style.paint(color, sym),
            c.ty,
            crate::config::address::Address::parse(&c.addr)
                .map(|a| a.name)
                .unwrap_or_default()
        );
        match c.action {
            // A run again shows what changed since the last run (old → new).
            Action::Execute if c.before.is_some() => render_attrs(&mut out, &c.attrs, sens, style),
            Action::Create | Action::Execute => {
                let mut flat = Vec::new();
                if let Some(v) = &c.after {
                    flatten(v, "", &mut flat);
                }
                // As Terraform: absent nested blocks are not listed (an empty list argument is).
                let schema = crate::resources::type_info(&c.ty).map(|t| t.schema());
                let absent_block = |k: &str, v: &Value| {
                    matches!(v, Value::Array(a) if a.is_empty())
                        && schema.is_some_and(|s| {
                            let (parent, name) = k.rsplit_once('.').unwrap_or(("", k));
                            s.at(parent).is_some_and(|p| p.block(name).is_some())
                        })
                };
                let mut lines: Vec<(String, String)> = flat
                    .into_iter()
                    .filter(|(k, v)| !absent_block(k, v))
                    .map(|(k, v)| {
                        let shown = if path_in(&k, &c.sensitive) {
                            "(sensitive value)".to_string()
                        } else {
                            show(&Some(v), sens)
                        };
                        (k, shown)
                    })
                    .collect();
                for p in c.unknown.iter().chain(c.computed.iter()) {
                    if !lines.iter().any(|(k, _)| k == p) {
                        lines.push((p.clone(), "(known after apply)".into()));
                    }
                }
                lines.sort();
                let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, v) in lines {
                    let _ = writeln!(out, "      {} {k:width$} = {v}", style.paint("32", "+"));
                }
            }
            Action::Delete | Action::Forget => {
                if let Some(id) = &c.prior_id {
                    let _ = writeln!(out, "      {} id = {:?}", style.paint("31", "-"), id);
                }
            }
            _ => render_attrs(&mut out, &c.attrs, sens, style),
        }
        let _ = writeln!(out, "    }}\n");
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "{} {w}\n", style.paint("33", "Warning:"));
    }
    for b in &plan.blocked {
        let _ = writeln!(out, "{} {b}", style.paint("31", "error:"));
    }
    out.push_str(&summary_line(plan));
    out.push('\n');
    out
}

/// GitHub's limit on a comment body.
pub const MARKDOWN_LIMIT: usize = 65_536;

/// A PR comment: the summary line in Terraform's words (so Atlantis/tfcmt-style parsers read
/// it), a warning block when anything is destroyed or replaced, and the plan as a diff, inside
/// `<details>` when longer than 12 lines; always under [`MARKDOWN_LIMIT`] characters.
pub fn render_markdown(plan: &Plan) -> String {
    let mut head = String::from("### runform plan\n\n");
    let s = plan.summary();
    if plan.refresh_only || !plan.has_changes() {
        let _ = writeln!(head, "{}", summary_line(plan));
    } else {
        let import = if s.import > 0 {
            format!("{} to import, ", s.import)
        } else {
            String::new()
        };
        let _ = writeln!(
            head,
            "Plan: {import}{} to add, {} to change, {} to destroy.",
            s.add, s.change, s.destroy
        );
        if s.execute > 0 {
            let _ = writeln!(head, "\nAnd {} job execution(s) to run.", s.execute);
        }
    }
    let doomed: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| {
            format!(
                "> - `{}` {}",
                c.addr,
                if c.action == Action::Delete {
                    "is destroyed"
                } else {
                    "is replaced (destroyed, then created)"
                }
            )
        })
        .collect();
    if !doomed.is_empty() {
        let _ = writeln!(
            head,
            "\n> [!WARNING]\n> **This plan destroys or replaces {} resource(s):**",
            doomed.len()
        );
        const LISTED: usize = 50;
        for d in doomed.iter().take(LISTED) {
            let _ = writeln!(head, "{d}");
        }
        if doomed.len() > LISTED {
            let _ = writeln!(head, "> - …and {} more", doomed.len() - LISTED);
        }
    }
    for w in &plan.warnings {
        let _ = writeln!(head, "\n> [!WARNING]\n> {w}");
    }
    if !plan.drift.is_empty() {
        let _ = writeln!(
            head,
            "\n> [!NOTE]\n> {} object(s) changed outside runform (shown first below).",
            plan.drift.len()
        );
    }
    if plan.targeted {
        let _ = writeln!(
            head,
            "\n> [!CAUTION]\n> Resource targeting is in effect: this plan may be incomplete."
        );
    }
    for b in &plan.blocked {
        let _ = writeln!(head, "\n> [!CAUTION]\n> This plan cannot be applied: {b}");
    }
    if !plan.has_work() && plan.drift.is_empty() && plan.blocked.is_empty() {
        return head;
    }
    // The detail: the text plan with each line's symbol moved to the first column, for
    // GitHub's diff highlighting.
    let text = render_plan(plan, &Style { color: false });
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines() {
        let t = l.trim_start();
        let indent = l.len() - t.len();
        let sym = ["-/+ ", "+ ", "- ", "~ ", "! ", "· ", "= "]
            .iter()
            .find(|p| t.starts_with(**p));
        match sym {
            Some(p) => {
                let mark = match p.trim() {
                    "+" => "+",
                    "-" => "-",
                    _ => "!",
                };
                lines.push(format!("{mark}{}{}", " ".repeat(indent.max(1) - 1), t));
            }
            None => lines.push(format!(" {l}")),
        }
    }
    let longest_ticks = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_ticks.max(2) + 1);
    let long = lines.len() > 12;
    let open = if long {
        format!(
            "\n<details><summary>Show the plan ({} lines)</summary>\n\n{fence}diff\n",
            lines.len()
        )
    } else {
        format!("\n{fence}diff\n")
    };
    let close = if long {
        format!("{fence}\n\n</details>\n")
    } else {
        format!("{fence}\n")
    };
    let budget = MARKDOWN_LIMIT.saturating_sub(512 + head.len() + open.len() + close.len());
    let mut body = String::new();
    let mut shown = 0;
    for l in &lines {
        if body.len() + l.len() + 1 > budget {
            break;
        }
        body.push_str(l);
        body.push('\n');
        shown += 1;
    }
    let mut out = head;
    out.push_str(&open);
    out.push_str(&body);
    out.push_str(&close);
    if shown < lines.len() {
        let _ = writeln!(
            out,
            "\n*The plan was truncated to fit a comment: {shown} of {} lines are shown. Run `runform plan` (or see the CI log) for all of it.*",
            lines.len()
        );
    }
    out
}

pub fn summary_line(plan: &Plan) -> String {
    if plan.refresh_only {
        let changed = plan.drift.iter().filter(|d| !d.deleted).count();
        let gone = plan.drift.iter().filter(|d| d.deleted).count();
        if changed + gone == 0 {
            return "No changes. Your infrastructure still matches what runform last applied."
                .into();
        }
        return format!(
            "Refresh only: {changed} object(s) changed and {gone} deleted outside runform; applying removes the deleted ones from state and changes nothing else."
        );
    }
    if !plan.has_changes() {
        return "No changes. Your infrastructure matches the configuration.".into();
    }
    let s = plan.summary();
    let import = if s.import > 0 {
        format!("{} to import, ", s.import)
    } else {
        String::new()
    };
    let forget = if s.forget > 0 {
        format!(", {} to forget", s.forget)
    } else {
        String::new()
    };
    format!(
        "Plan: {import}{} to add, {} to change, {} to destroy, {} to execute{forget}.",
        s.add, s.change, s.destroy, s.execute
    )
}
