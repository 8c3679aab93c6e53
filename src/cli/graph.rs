//! `runform graph`: the configuration's resources and what each depends on, printed as
//! `terraform graph` prints it (DOT, resources grouped by module, edges reduced to the
//! direct ones), or as a Mermaid flowchart; for a saved plan, its resource instances labelled
//! with their actions.

use super::args::{parse_vars, VarArgs};
use super::planfile;
use crate::ops;
use anyhow::bail;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub(super) enum GraphFormat {
    /// Graphviz DOT, as `terraform graph`.
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
}

/// Nodes (address → (module path, label)) and "depends on" edges.
#[derive(Default)]
struct Drawing {
    nodes: BTreeMap<String, (String, String)>,
    edges: BTreeSet<(String, String)>,
}

/// A resource instance's address without instance keys: `module.m["a"].x.y[0]` →
/// `module.m.x.y` (Terraform draws resources, not instances).
fn without_keys(addr: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut quoted = false;
    let mut prev = ' ';
    for c in addr.chars() {
        match c {
            '"' if depth > 0 && prev != '\\' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
        prev = c;
    }
    out
}

/// The module path of a resource address (`module.m.module.inner`, or empty at the root).
fn module_of(addr: &str) -> String {
    let parts: Vec<&str> = addr.split('.').collect();
    let mut module = Vec::new();
    let mut i = 0;
    while i + 1 < parts.len() && parts[i] == "module" {
        module.push(format!("module.{}", parts[i + 1]));
        i += 2;
    }
    module.join(".")
}

impl Drawing {
    fn node(&mut self, addr: &str, label: String) {
        self.nodes
            .entry(addr.to_string())
            .or_insert_with(|| (module_of(addr), label));
    }

    /// Keeps an edge only when no longer path joins its ends (Terraform's transitive
    /// reduction).
    fn reduce(&mut self) {
        let next: BTreeMap<&String, Vec<&String>> =
            self.edges.iter().fold(BTreeMap::new(), |mut m, (a, b)| {
                m.entry(a).or_default().push(b);
                m
            });
        let reachable_without = |from: &String, to: &String| {
            // Whether `to` is reachable from `from` other than by the direct edge.
            let mut stack: Vec<&String> = next
                .get(from)
                .into_iter()
                .flatten()
                .filter(|n| **n != to)
                .copied()
                .collect();
            let mut seen: BTreeSet<&String> = stack.iter().copied().collect();
            while let Some(n) = stack.pop() {
                if n == to {
                    return true;
                }
                for m in next.get(n).into_iter().flatten() {
                    if seen.insert(m) {
                        stack.push(m);
                    }
                }
            }
            false
        };
        let redundant: Vec<(String, String)> = self
            .edges
            .iter()
            .filter(|(a, b)| reachable_without(a, b))
            .cloned()
            .collect();
        for e in redundant {
            self.edges.remove(&e);
        }
    }

    /// Nodes in Terraform's order: the root module's first, then each module's, modules
    /// by path; within one, by address.
    fn ordered(&self) -> Vec<&String> {
        let mut v: Vec<&String> = self.nodes.keys().collect();
        v.sort_by(|a, b| (&self.nodes[*a].0, a).cmp(&(&self.nodes[*b].0, b)));
        v
    }

    fn dot(&self) -> String {
        let mut out = String::from(
            "digraph G {\n  rankdir = \"RL\";\n  node [shape = rect, fontname = \"sans-serif\"];\n",
        );
        let order = self.ordered();
        let mut module: Option<&str> = None;
        for n in &order {
            let (m, label) = &self.nodes[*n];
            if module != Some(m.as_str()) {
                if module.is_some_and(|m| !m.is_empty()) {
                    out.push_str("  }\n");
                }
                if !m.is_empty() {
                    let _ = write!(
                        out,
                        "  subgraph \"cluster_{m}\" {{\n    label = \"{m}\"\n    fontname = \"sans-serif\"\n"
                    );
                }
                module = Some(m);
            }
            let indent = if m.is_empty() { "  " } else { "    " };
            let _ = writeln!(out, "{indent}{n:?} [label={label:?}];");
        }
        if module.is_some_and(|m| !m.is_empty()) {
            out.push_str("  }\n");
        }
        for (a, b) in self.ordered_edges(&order) {
            let _ = writeln!(out, "  {a:?} -> {b:?};");
        }
        out.push_str("}\n");
        out
    }

    /// Edges by their source's place in the node order, then their target's.
    fn ordered_edges<'a>(&'a self, order: &[&'a String]) -> Vec<(&'a String, &'a String)> {
        let rank: BTreeMap<&String, usize> =
            order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut edges: Vec<(&String, &String)> = self.edges.iter().map(|(a, b)| (a, b)).collect();
        edges.sort_by_key(|(a, b)| (rank.get(a).copied(), rank.get(b).copied()));
        edges
    }

    fn mermaid(&self) -> String {
        let order = self.ordered();
        let id: BTreeMap<&String, String> = order
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, format!("n{i}")))
            .collect();
        let mut out = String::from("flowchart RL\n");
        let mut module: Option<&str> = None;
        for n in &order {
            let (m, label) = &self.nodes[*n];
            if module != Some(m.as_str()) {
                if module.is_some_and(|m| !m.is_empty()) {
                    out.push_str("  end\n");
                }
                if !m.is_empty() {
                    let _ = writeln!(out, "  subgraph {}[\"{m}\"]", m.replace('.', "_"));
                }
                module = Some(m);
            }
            let indent = if m.is_empty() { "  " } else { "    " };
            let _ = writeln!(
                out,
                "{indent}{}[\"{}\"]",
                id[n],
                label.replace('"', "#quot;")
            );
        }
        if module.is_some_and(|m| !m.is_empty()) {
            out.push_str("  end\n");
        }
        for (a, b) in self.ordered_edges(&order) {
            let _ = writeln!(out, "  {} --> {}", id[a], id[b]);
        }
        out
    }
}

/// The label a node gets: its address within its module.
fn local_label(addr: &str) -> String {
    let m = module_of(addr);
    match m.is_empty() {
        true => addr.to_string(),
        false => addr
            .strip_prefix(&format!("{m}."))
            .unwrap_or(addr)
            .to_string(),
    }
}

/// The configuration's resources (instances drawn as their resource).
fn of_configuration(dir: &Path, vars: &VarArgs) -> anyhow::Result<Drawing> {
    let mut args = parse_vars(vars, true)?;
    // As `terraform graph`: no values are needed; unset variables are unknown.
    args.validate_only = true;
    let (stack, diags, sources) = ops::load_stack(dir, &args, None, None);
    let Some(stack) = stack else {
        super::report(&sources, &diags);
        bail!(
            "the configuration in {} has errors; nothing was drawn",
            dir.display()
        );
    };
    let mut d = Drawing::default();
    for rc in &stack.resources {
        let from = without_keys(&rc.addr);
        d.node(&from, local_label(&from));
        for dep in &rc.depends_on {
            let to = without_keys(dep);
            if to != from && stack.resources.iter().any(|r| without_keys(&r.addr) == to) {
                d.edges.insert((from.clone(), to));
            }
        }
    }
    d.reduce();
    Ok(d)
}

/// A saved plan's resource instances, each labelled with its action.
fn of_plan(path: &Path) -> anyhow::Result<Drawing> {
    let pf = planfile::read(path)?.as_saved()?;
    let mut d = Drawing::default();
    let changes: Vec<&crate::plan::Change> = pf.plan.changes.iter().collect();
    let known: BTreeSet<&str> = changes.iter().map(|c| c.addr.as_str()).collect();
    for c in &changes {
        use crate::plan::Action;
        let action = match c.action {
            Action::NoOp => "no change",
            Action::Create => "create",
            Action::Update => "update",
            Action::StateOnly => "update state",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Execute => "execute",
            Action::Forget => "forget",
            Action::Adopt => "import",
        };
        d.node(&c.addr, format!("{} ({action})", local_label(&c.addr)));
        for dep in c
            .depends_on
            .iter()
            .filter(|dep| known.contains(dep.as_str()))
        {
            d.edges.insert((c.addr.clone(), dep.clone()));
        }
    }
    d.reduce();
    Ok(d)
}

/// `runform graph [DIR | PLANFILE] [--format dot|mermaid]`.
pub(super) fn graph(path: &Path, vars: &VarArgs, format: GraphFormat) -> anyhow::Result<i32> {
    let d = if path.is_file() {
        of_plan(path)?
    } else {
        super::dirs::stack(path)?;
        of_configuration(path, vars)?
    };
    print!(
        "{}",
        match format {
            GraphFormat::Dot => d.dot(),
            GraphFormat::Mermaid => d.mermaid(),
        }
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_their_instance_keys_and_keep_their_modules() {
        assert_eq!(without_keys("module.m[\"a.b]\"].x.y[0]"), "module.m.x.y");
        assert_eq!(
            module_of("module.m.module.inner.t.n"),
            "module.m.module.inner"
        );
        assert_eq!(module_of("t.n"), "");
    }

    #[test]
    fn edges_implied_by_longer_paths_are_dropped() {
        let mut d = Drawing::default();
        for (a, b) in [("c", "b"), ("b", "a"), ("c", "a")] {
            d.edges.insert((a.into(), b.into()));
        }
        d.reduce();
        assert_eq!(
            d.edges.into_iter().collect::<Vec<_>>(),
            [("b".into(), "a".into()), ("c".into(), "b".into())]
        );
    }
}
