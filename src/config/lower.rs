//! A resource block → a value of its schema's type: each argument evaluated and converted to
//! its type, nested blocks (with `dynamic` blocks expanded) collected as lists or sets and
//! checked against their limits. Unset arguments are null, absent blocks empty.

use super::parse::{RawBlock, RawBody};
use super::refs::{dynamic_iterator, Expanded};
use super::scope::{key_value, kind_of, Env};
use super::{Loader, META_ARGS};
use crate::diag::{closest, Diagnostic, Range};
use crate::lang::convert::convert;
use crate::lang::{Type, Value};
use crate::model::schema::{join, Nesting};
use crate::model::Schema;
use std::collections::BTreeMap;

impl Loader<'_> {
    /// A body's blocks with `dynamic` blocks expanded: one generated block per element of
    /// their `for_each`, each with its iterator's name and `{ key, value }`. A `for_each` known
    /// only after apply makes that block type's whole list unknown (`Err(name)`).
    pub(super) fn expand_dynamic<'b>(
        &mut self,
        body: &'b RawBody,
        env: &Env,
    ) -> (Vec<Expanded<'b>>, Vec<String>) {
        use std::borrow::Cow;
        let mut out = Vec::with_capacity(body.blocks.len());
        let mut unknown = Vec::new();
        for b in &body.blocks {
            if b.ty != "dynamic" {
                out.push((Cow::Borrowed(b), None));
                continue;
            }
            let Some(label) = b.labels.first() else {
                self.diags.push(
                    Diagnostic::error("a dynamic block needs a label: the block type to generate", Some(b.range.clone()))
                        .with_hint("e.g. dynamic \"env\" { for_each = var.env; content { name = env.key; value = env.value } }"),
                );
                continue;
            };
            let it = dynamic_iterator(b);
            let content = b.body.blocks.iter().find(|x| x.ty == "content");
            let (Some(fe), Some(content)) = (b.body.attr("for_each"), content) else {
                self.diags.error(
                    format!("dynamic {label:?} needs `for_each` and a `content` block"),
                    Some(b.range.clone()),
                );
                continue;
            };
            for a in &b.body.attrs {
                if !matches!(a.name.as_str(), "for_each" | "iterator" | "labels") {
                    self.diags.error(
                        format!("unexpected argument {:?} in a dynamic block (for_each, iterator and content belong here)", a.name),
                        Some(a.range.clone()),
                    );
                }
            }
            let Some(v) = self.eval(&fe.expr, &fe.value_range, env) else {
                continue;
            };
            if v.is_null() {
                self.diags.error(
                    format!("dynamic {label:?}: for_each must not be null"),
                    Some(fe.value_range.clone()),
                );
                continue;
            }
            if !v.is_known() {
                unknown.push(label.clone());
                continue;
            }
            let t = v.ty();
            if !(t.is_collection() || t.is_tuple() || t.is_object()) {
                self.diags.error(
                    format!(
                        "dynamic {label:?}: for_each needs a list, set or map, got {}",
                        kind_of(&v)
                    ),
                    Some(fe.value_range.clone()),
                );
                continue;
            }
            for (k, x) in crate::lang::eval::iterate(&v.unmark().0) {
                let blk = RawBlock {
                    ty: label.clone(),
                    labels: Vec::new(),
                    body: content.body.clone(),
                    range: content.range.clone(),
                };
                out.push((Cow::Owned(blk), Some((it.clone(), key_value(k, x)))));
            }
        }
        (out, unknown)
    }

    /// Evaluates a body against its schema. Unset arguments and absent blocks are left out
    /// (the planned value gets them from the schema), except inside set blocks, whose
    /// elements are compared whole and so need their complete shape (`complete`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lower(
        &mut self,
        body: &RawBody,
        schema: &Schema,
        path: &str,
        block_range: &Range,
        spans: &mut BTreeMap<String, Range>,
        env: &mut Env,
        complete: bool,
    ) -> Value {
        let mut out: BTreeMap<String, Value> = BTreeMap::new();
        for a in &body.attrs {
            if path.is_empty() && META_ARGS.contains(&a.name.as_str()) {
                continue;
            }
            let Some(attr) = schema.attr(&a.name) else {
                let mut d = if schema.block(&a.name).is_some() {
                    Diagnostic::error(
                        format!("{:?} is a block, not an argument", a.name),
                        Some(a.range.clone()),
                    )
                    .with_hint(format!("write it as `{} {{ ... }}`", a.name))
                } else {
                    Diagnostic::error(
                        format!("unsupported argument {:?}", a.name),
                        Some(a.range.clone()),
                    )
                };
                if d.hint.is_none() {
                    if let Some(c) = closest(&a.name, schema.settable_names()) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                }
                self.diags.push(d);
                continue;
            };
            if !attr.required && !attr.optional {
                self.diags.push(
                    Diagnostic::error(
                        format!("{:?} is computed by the provider and cannot be set", a.name),
                        Some(a.range.clone()),
                    )
                    .with_hint("remove it; read it from the resource instead"),
                );
                continue;
            }
            if !attr.supported {
                self.unsupported(&a.name, &a.range);
                continue;
            }
            let p = join(path, &a.name);
            spans.insert(p.clone(), a.value_range.clone());
            for (k, r) in &a.item_ranges {
                spans.insert(format!("{p}.{k}"), r.clone());
            }
            let Some(v) = self.eval(&a.expr, &a.value_range, env) else {
                continue;
            };
            if v.contains_marked() {
                // Collected here, before a set block takes its elements' marks.
                super::scope::sensitive_strings(&v, false, &mut self.secrets);
            }
            match convert(&v, &attr.ty) {
                Ok(v) => {
                    out.insert(a.name.clone(), v);
                }
                Err(e) => self.diags.push(
                    Diagnostic::error(
                        format!("{}: incorrect value type: {e}", a.name),
                        Some(a.value_range.clone()),
                    )
                    .with_hint(format!(
                        "{} takes {}",
                        a.name,
                        attr.ty.friendly_constraint()
                    )),
                ),
            }
        }
        let mut items: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut first_range: BTreeMap<String, Range> = BTreeMap::new();
        let (expanded, unknown_blocks) = self.expand_dynamic(body, env);
        for (b, iter) in expanded.iter() {
            if path.is_empty() && b.ty == "lifecycle" {
                continue;
            }
            if path.is_empty() && matches!(b.ty.as_str(), "provisioner" | "connection") {
                self.diags.push(
                    Diagnostic::error(format!("`{}` blocks are not supported: runform does not run commands on your machine or over SSH during apply", b.ty), Some(b.range.clone()))
                        .with_hint("run the command in your pipeline before or after `runform apply`; to run work in the cloud, use a runform_job_execution"),
                );
                continue;
            }
            if b.ty == "timeouts" && path.is_empty() && schema.block("timeouts").is_none() {
                // The provider's `timeouts {}`: runform waits as long as each call needs.
                continue;
            }
            let Some(bs) = schema.block(&b.ty) else {
                let mut d = if schema.attr(&b.ty).is_some() {
                    Diagnostic::error(
                        format!("{:?} is an argument, not a block", b.ty),
                        Some(b.range.clone()),
                    )
                    .with_hint(format!("write it as `{} = ...`", b.ty))
                } else {
                    Diagnostic::error(
                        format!("unsupported block {:?}", b.ty),
                        Some(b.range.clone()),
                    )
                };
                if d.hint.is_none() {
                    if let Some(c) = closest(&b.ty, schema.settable_names()) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                }
                self.diags.push(d);
                continue;
            };
            if !bs.supported {
                self.unsupported(&b.ty, &b.range);
                continue;
            }
            if !bs.required() && !bs.optional {
                self.diags.error(
                    format!("{:?} is computed by the provider and cannot be set", b.ty),
                    Some(b.range.clone()),
                );
                continue;
            }
            if !b.labels.is_empty() {
                self.diags.error(
                    format!("block {:?} takes no labels", b.ty),
                    Some(b.range.clone()),
                );
            }
            let list = items.entry(bs.name.clone()).or_default();
            first_range
                .entry(bs.name.clone())
                .or_insert_with(|| b.range.clone());
            let p = if bs.single() {
                join(path, &bs.name)
            } else {
                format!("{}[{}]", join(path, &bs.name), list.len())
            };
            spans.insert(p.clone(), b.range.clone());
            // Inside a `dynamic` block's content, its iterator is bound.
            let bound = iter.as_ref().map(|(name, v)| {
                let prev = env.root(name).cloned();
                env.set_root(name, v.clone());
                (name.clone(), prev)
            });
            let in_set = complete || bs.nesting == Nesting::Set;
            let v = self.lower(&b.body, &bs.body, &p, &b.range, spans, env, in_set);
            if let Some((name, prev)) = bound {
                match prev {
                    Some(pv) => env.set_root(&name, pv),
                    None => env.remove_root(&name),
                }
            }
            let list = items.entry(bs.name.clone()).or_default();
            list.push(v);
        }
        for bs in &schema.blocks {
            let ety = bs.body.implied_type();
            let coll_ty = match bs.nesting {
                Nesting::List => Type::list(ety.clone()),
                Nesting::Set => Type::set(ety.clone()),
            };
            if unknown_blocks.contains(&bs.name) {
                out.insert(bs.name.clone(), Value::unknown(coll_ty));
                continue;
            }
            let list = items.remove(&bs.name).unwrap_or_default();
            if bs.max > 0 && list.len() > bs.max {
                self.diags.error(
                    format!(
                        "too many {:?} blocks: at most {} {} allowed here",
                        bs.name,
                        bs.max,
                        if bs.max == 1 { "is" } else { "are" }
                    ),
                    first_range
                        .get(&bs.name)
                        .cloned()
                        .or(Some(block_range.clone())),
                );
            }
            if list.len() < bs.min {
                self.diags.push(
                    Diagnostic::error(
                        if bs.min == 1 {
                            format!("missing required block {:?}", bs.name)
                        } else {
                            format!("at least {} {:?} blocks are required", bs.min, bs.name)
                        },
                        Some(block_range.clone()),
                    )
                    .with_hint(format!("add `{} {{ ... }}`", bs.name)),
                );
            }
            if list.is_empty() && !complete {
                continue;
            }
            out.insert(
                bs.name.clone(),
                match bs.nesting {
                    Nesting::List => Value::list(ety, list),
                    Nesting::Set => Value::set(ety, list),
                },
            );
        }
        for a in &schema.attrs {
            if a.required && !out.contains_key(&a.name) && body.attr(&a.name).is_none() {
                self.diags.push(
                    Diagnostic::error(
                        format!("missing required argument {:?}", a.name),
                        Some(block_range.clone()),
                    )
                    .with_hint(format!("add `{} = ...` to this block", a.name)),
                );
            }
            if complete {
                out.entry(a.name.clone())
                    .or_insert_with(|| Value::null(a.ty.clone()));
            }
        }
        Value::object(out)
    }

    fn unsupported(&mut self, name: &str, range: &Range) {
        self.diags.push(
            Diagnostic::error(
                format!("{name:?} is an argument of the google provider that runform does not implement yet"),
                Some(range.clone()),
            )
            .with_hint("remove it, or apply this resource with Terraform until runform supports it"),
        );
    }
}
