//! The names expressions of one module instance can read (`var`, `local`, `path`,
//! `terraform`, `module`, `data`, resource types, `count`, `each`, `self`, dynamic block
//! iterators), as a [`Scope`] for the evaluator.

use crate::lang::eval::{EvalError, Scope};
use crate::lang::{Type, Value, V};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The names one module instance's expressions read (also what `runform console` evaluates
/// against).
#[derive(Default, Debug, Clone)]
pub struct Env {
    pub(super) roots: BTreeMap<String, Value>,
    /// Where relative file paths start (the stack's root directory).
    pub base: PathBuf,
}

impl Env {
    pub fn set_root(&mut self, root: &str, v: Value) {
        self.roots.insert(root.to_string(), v);
    }

    pub fn remove_root(&mut self, root: &str) {
        self.roots.remove(root);
    }

    pub fn root(&self, root: &str) -> Option<&Value> {
        self.roots.get(root)
    }

    /// Sets `root.name` (an attribute of the object at `root`, created if missing).
    pub fn set_member(&mut self, root: &str, name: &str, v: Value) {
        let obj = self
            .roots
            .entry(root.to_string())
            .or_insert_with(Value::empty_object);
        if let V::Object(m) = &mut obj.v {
            m.insert(name.to_string(), v);
        }
    }

    /// `data.TYPE.NAME`.
    pub fn set_data(&mut self, ty: &str, name: &str, v: Value) {
        let data = self
            .roots
            .entry("data".to_string())
            .or_insert_with(Value::empty_object);
        if let V::Object(m) = &mut data.v {
            let t = m.entry(ty.to_string()).or_insert_with(Value::empty_object);
            if let V::Object(tm) = &mut t.v {
                tm.insert(name.to_string(), v);
            }
        }
    }
}

impl Scope for Env {
    fn resolve(&self, root: &str, attrs: &[&str]) -> Result<(Value, usize), EvalError> {
        let Some(v) = self.roots.get(root) else {
            return Err(EvalError::reference(
                "Reference to undeclared name",
                format!("There is no value named {root:?} here."),
            ));
        };
        // Walk into objects without copying the whole root (a resource type's root holds
        // every instance of it); marks met on the way go on the result.
        let mut cur = v;
        let mut used = 0;
        let mut marked = false;
        for a in attrs {
            if !cur.is_known() || !matches!(cur.v, V::Object(_)) {
                break;
            }
            let Some(x) = cur.entries().and_then(|m| m.get(*a)) else {
                break;
            };
            marked |= cur.sensitive;
            cur = x;
            used += 1;
        }
        Ok((cur.clone().mark(marked), used))
    }

    fn base_dir(&self) -> PathBuf {
        self.base.clone()
    }
}

/// `{ key = ..., value = ... }` for `each` and dynamic block iterators.
pub(super) fn key_value(k: Value, v: Value) -> Value {
    Value::object([("key".to_string(), k), ("value".to_string(), v)].into())
}

/// `count.index` while it is being planned.
pub(super) fn count_object(i: usize) -> Value {
    Value::object(
        [(
            "index".to_string(),
            Value::number(crate::lang::Number::from_usize(i)),
        )]
        .into(),
    )
}

/// Every non-empty string (and number) inside a value that is marked, or under a mark:
/// what diagnostics and rendered output must never show.
pub fn sensitive_strings(v: &Value, under: bool, out: &mut Vec<String>) {
    let here = under || v.sensitive;
    match &v.v {
        V::String(s) if here && !s.is_empty() => out.push(s.clone()),
        V::Number(n) if here => out.push(n.to_text()),
        // A set's mark may come from one element (sets hold no marked elements): masking
        // every string in it would hide names and image tags. Its secrets are collected
        // where they arise (variables, argument values).
        V::Set(_, xs) => xs.iter().for_each(|x| sensitive_strings(x, under, out)),
        V::List(_, xs) | V::Tuple(xs) => xs.iter().for_each(|x| sensitive_strings(x, here, out)),
        V::Map(_, m) | V::Object(m) => m.values().for_each(|x| sensitive_strings(x, here, out)),
        _ => {}
    }
}

/// A short description of a value's kind for messages.
pub(super) fn kind_of(v: &Value) -> String {
    if v.is_null() {
        return "null".into();
    }
    match v.ty() {
        Type::Object(..) => "an object".into(),
        Type::Tuple(_) => "a tuple".into(),
        t => format!("a {}", t.friendly()),
    }
}
