//! References in expressions: which named values (variables, locals, resources, data
//! sources, modules) an expression reads, for the dependency graph, with a located error for
//! each name that is not declared.

use super::parse::{RawAttr, RawBlock};
use super::Variable;
use crate::diag::{closest, Diagnostic, Range};
use std::collections::BTreeMap;

/// A block after `dynamic` expansion, with the iterator bound in its content.
pub(super) type Expanded<'b> = (
    std::borrow::Cow<'b, RawBlock>,
    Option<(String, crate::lang::Value)>,
);

/// Receives (root, first attribute, second attribute) of each reference.
pub(super) type RefSink<'f> = dyn FnMut(&str, Option<&str>, Option<&str>) + 'f;

/// The iterator name of a `dynamic` block.
pub(super) fn dynamic_iterator(b: &RawBlock) -> String {
    match b.body.attr("iterator").map(|a| &a.expr) {
        Some(hcl::Expression::Variable(v)) => v.to_string(),
        _ => b.labels.first().cloned().unwrap_or_default(),
    }
}

pub(super) struct KnownRoots<'a> {
    pub variables: &'a BTreeMap<String, Variable>,
    pub locals: &'a BTreeMap<String, RawAttr>,
    pub resources: &'a BTreeMap<String, RawBlock>,
    pub data: &'a BTreeMap<String, RawBlock>,
    pub modules: &'a BTreeMap<String, RawBlock>,
    pub types: &'a [&'static str],
}

pub(super) struct RefError {
    msg: String,
    hint: Option<String>,
}

impl RefError {
    pub fn at(self, r: Range) -> Diagnostic {
        let d = Diagnostic::error(self.msg, Some(r));
        match self.hint {
            Some(h) => d.with_hint(h),
            None => d,
        }
    }
}

impl KnownRoots<'_> {
    pub fn declared(&self, node: &str) -> bool {
        self.resources.contains_key(node)
            || self.data.contains_key(node)
            || self.modules.contains_key(node)
    }

    /// Maps a reference root (and its first attributes) to a graph node, or explains why it
    /// is not a valid reference.
    pub fn resolve(
        &self,
        root: &str,
        second: Option<&str>,
        third: Option<&str>,
    ) -> Result<Option<String>, RefError> {
        let n = second.unwrap_or("");
        let undeclared = |what: &str, prefix: &str, names: Vec<&str>| RefError {
            msg: format!("reference to undeclared {what} {prefix}{n}"),
            hint: closest(n, names).map(|c| format!("did you mean {prefix}{c}?")),
        };
        match root {
            "var" if self.variables.contains_key(n) => Ok(Some(format!("var.{n}"))),
            "var" => Err(undeclared(
                "variable",
                "var.",
                self.variables.keys().map(String::as_str).collect(),
            )),
            "local" if self.locals.contains_key(n) => Ok(Some(format!("local.{n}"))),
            "local" => Err(undeclared(
                "local value",
                "local.",
                self.locals.keys().map(String::as_str).collect(),
            )),
            "module" if self.modules.contains_key(&format!("module.{n}")) => {
                Ok(Some(format!("module.{n}")))
            }
            "module" => Err(undeclared(
                "module",
                "module.",
                self.modules
                    .keys()
                    .filter_map(|k| k.strip_prefix("module."))
                    .collect(),
            )),
            "data" => {
                let node = format!("data.{n}.{}", third.unwrap_or(""));
                if self.data.contains_key(&node) {
                    Ok(Some(node))
                } else {
                    Err(RefError {
                        msg: format!("reference to undeclared data source {node}"),
                        hint: closest(&node, self.data.keys().map(String::as_str))
                            .map(|c| format!("did you mean {c}?")),
                    })
                }
            }
            "path" | "terraform" | "each" | "count" | "self" => Ok(None),
            "resource" => {
                let node = format!("{n}.{}", third.unwrap_or(""));
                Ok(self.resources.contains_key(&node).then_some(node))
            }
            _ => {
                let addr = format!("{root}.{n}");
                if self.resources.contains_key(&addr) {
                    Ok(Some(addr))
                } else if self.types.contains(&root) {
                    let names: Vec<&str> = self
                        .resources
                        .keys()
                        .filter_map(|k| k.strip_prefix(&format!("{root}.")))
                        .collect();
                    Err(RefError {
                        msg: format!("reference to undeclared resource {addr}"),
                        hint: closest(n, names).map(|c| format!("did you mean {root}.{c}?")),
                    })
                } else {
                    Err(RefError {
                        msg: format!("unknown reference {root:?}"),
                        hint: Some("references start with var., local., data., module., or a resource type such as google_cloud_run_v2_job.".into()),
                    })
                }
            }
        }
    }
}

/// Calls `f(root, first_attr, second_attr)` for every variable reference in `expr`, skipping
/// names bound by enclosing `for` expressions.
pub(super) fn collect_refs(expr: &hcl::Expression, bound: &mut Vec<String>, f: &mut RefSink) {
    use hcl::expr::{Operation, TraversalOperator};
    use hcl::Expression as E;
    match expr {
        E::Variable(v) if !bound.iter().any(|b| b == v.as_str()) => f(v.as_str(), None, None),
        E::Variable(_) => {}
        E::Traversal(t) => {
            if let E::Variable(v) = &t.expr {
                if !bound.iter().any(|b| b == v.as_str()) {
                    let attr = |i: usize| match t.operators.get(i) {
                        Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
                        _ => None,
                    };
                    let second = attr(0);
                    f(v.as_str(), second, second.and(attr(1)));
                }
            } else {
                collect_refs(&t.expr, bound, f);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    collect_refs(i, bound, f);
                }
            }
        }
        E::Array(items) => items.iter().for_each(|i| collect_refs(i, bound, f)),
        E::Object(m) => {
            for (k, v) in m {
                if let hcl::ObjectKey::Expression(e) = k {
                    collect_refs(e, bound, f);
                }
                collect_refs(v, bound, f);
            }
        }
        E::TemplateExpr(t) => {
            if let Ok(tpl) = hcl::Template::from_expr(t) {
                collect_template_refs(tpl.elements(), bound, f);
            }
        }
        E::FuncCall(fc) => fc.args.iter().for_each(|a| collect_refs(a, bound, f)),
        E::Parenthesis(e) => collect_refs(e, bound, f),
        E::Conditional(c) => {
            collect_refs(&c.cond_expr, bound, f);
            collect_refs(&c.true_expr, bound, f);
            collect_refs(&c.false_expr, bound, f);
        }
        E::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => collect_refs(&u.expr, bound, f),
            Operation::Binary(b) => {
                collect_refs(&b.lhs_expr, bound, f);
                collect_refs(&b.rhs_expr, bound, f);
            }
        },
        E::ForExpr(fe) => {
            collect_refs(&fe.collection_expr, bound, f);
            let n = bound.len();
            bound.push(fe.value_var.to_string());
            if let Some(k) = &fe.key_var {
                bound.push(k.to_string());
            }
            if let Some(k) = &fe.key_expr {
                collect_refs(k, bound, f);
            }
            collect_refs(&fe.value_expr, bound, f);
            if let Some(c) = &fe.cond_expr {
                collect_refs(c, bound, f);
            }
            bound.truncate(n);
        }
        _ => {}
    }
}

fn collect_template_refs(
    elements: &[hcl::template::Element],
    bound: &mut Vec<String>,
    f: &mut RefSink,
) {
    use hcl::template::{Directive, Element};
    for el in elements {
        match el {
            Element::Interpolation(i) => collect_refs(&i.expr, bound, f),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(i) => {
                    collect_refs(&i.cond_expr, bound, f);
                    collect_template_refs(i.true_template.elements(), bound, f);
                    if let Some(t) = &i.false_template {
                        collect_template_refs(t.elements(), bound, f);
                    }
                }
                Directive::For(fd) => {
                    collect_refs(&fd.collection_expr, bound, f);
                    let n = bound.len();
                    bound.push(fd.value_var.to_string());
                    if let Some(k) = &fd.key_var {
                        bound.push(k.to_string());
                    }
                    collect_template_refs(fd.template.elements(), bound, f);
                    bound.truncate(n);
                }
            },
            Element::Literal(_) => {}
        }
    }
}

/// The graph node a reference names, given its root and first two attribute names.
pub(super) fn ref_node(root: &str, second: Option<&str>, third: Option<&str>) -> Option<String> {
    match root {
        "var" | "local" => second.map(|s| format!("{root}.{s}")),
        "module" => second.map(|s| format!("module.{s}")),
        "data" => match (second, third) {
            (Some(t), Some(n)) => Some(format!("data.{t}.{n}")),
            _ => None,
        },
        "path" | "terraform" | "each" | "count" | "self" => None,
        // `resource.TYPE.NAME` (seen in depends_on lists of Google's samples).
        "resource" => match (second, third) {
            (Some(t), Some(n)) => Some(format!("{t}.{n}")),
            _ => None,
        },
        _ => second.map(|s| format!("{root}.{s}")),
    }
}

/// Root and first two attribute names of a traversal expression.
pub(super) fn traversal_parts(
    e: &hcl::Expression,
) -> Option<(String, Option<String>, Option<String>)> {
    use hcl::expr::TraversalOperator;
    match e {
        hcl::Expression::Traversal(t) => {
            let hcl::Expression::Variable(v) = &t.expr else {
                return None;
            };
            let mut names = t.operators.iter().map(|op| match op {
                TraversalOperator::GetAttr(a) => Some(a.to_string()),
                _ => None,
            });
            Some((
                v.to_string(),
                names.next().flatten(),
                names.next().flatten(),
            ))
        }
        hcl::Expression::Variable(v) => Some((v.to_string(), None, None)),
        _ => None,
    }
}
