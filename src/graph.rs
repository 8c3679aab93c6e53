//! Dependency graphs: topological order with cycle reports that name every member, and wave
//! scheduling for apply.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, BTreeSet};

/// A set of named nodes and "a depends on b" edges.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    deps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    pub fn add_node(&mut self, n: &str) {
        self.deps.entry(n.to_string()).or_default();
    }
    /// `a` depends on `b` (b comes first).
    pub fn add_edge(&mut self, a: &str, b: &str) {
        self.add_node(b);
        self.deps
            .entry(a.to_string())
            .or_default()
            .insert(b.to_string());
    }
    pub fn deps(&self, n: &str) -> impl Iterator<Item = &String> {
        self.deps.get(n).into_iter().flatten()
    }
    pub fn nodes(&self) -> impl Iterator<Item = &String> {
        self.deps.keys()
    }

    /// Nodes ordered so every node comes after what it depends on (ties by name), or the
    /// cycles found, each as the sorted list of its members.
    pub fn toposort(&self) -> Result<Vec<String>, Vec<Vec<String>>> {
        let mut g: DiGraph<&str, ()> = DiGraph::new();
        let idx: BTreeMap<&str, NodeIndex> = self
            .deps
            .keys()
            .map(|k| (k.as_str(), g.add_node(k.as_str())))
            .collect();
        for (a, bs) in &self.deps {
            for b in bs {
                g.add_edge(idx[b.as_str()], idx[a.as_str()], ());
            }
        }
        let cycles: Vec<Vec<String>> = tarjan_scc(&g)
            .into_iter()
            .filter(|scc| scc.len() > 1 || g.contains_edge(scc[0], scc[0]))
            .map(|scc| {
                let mut v: Vec<String> = scc.iter().map(|i| g[*i].to_string()).collect();
                v.sort();
                v
            })
            .collect();
        if !cycles.is_empty() {
            let mut cycles = cycles;
            cycles.sort();
            return Err(cycles);
        }
        // Kahn's algorithm with a sorted ready set, for a deterministic order.
        let mut remaining: BTreeMap<&str, usize> = self
            .deps
            .iter()
            .map(|(k, v)| (k.as_str(), v.len()))
            .collect();
        let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (a, bs) in &self.deps {
            for b in bs {
                dependents.entry(b.as_str()).or_default().push(a.as_str());
            }
        }
        let mut ready: BTreeSet<&str> = remaining
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::with_capacity(self.deps.len());
        while let Some(n) = ready.pop_first() {
            out.push(n.to_string());
            for d in dependents.get(n).into_iter().flatten() {
                if let Some(c) = remaining.get_mut(d) {
                    *c -= 1;
                    if *c == 0 {
                        ready.insert(d);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first() {
        let mut g = Graph::default();
        g.add_edge("c", "b");
        g.add_edge("b", "a");
        g.add_node("d");
        assert_eq!(g.toposort().unwrap(), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn cycle_names_every_member() {
        let mut g = Graph::default();
        g.add_edge("a", "b");
        g.add_edge("b", "c");
        g.add_edge("c", "a");
        g.add_edge("d", "a");
        assert_eq!(
            g.toposort().unwrap_err(),
            vec![vec!["a".to_string(), "b".into(), "c".into()]]
        );
    }
}
