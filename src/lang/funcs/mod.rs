//! Terraform's functions, declared once each with their parameter types and whether a
//! parameter accepts null, unknown, dynamic-typed and marked values. One dispatcher
//! ([`call_with_ctx`]) applies go-cty's rules, so that each implementation handles only
//! known, unmarked values (unless it asks for more):
//!
//! 1. arguments are converted to their parameter types;
//! 2. a null argument for a parameter that does not allow it is an error;
//! 3. a dynamic-typed argument for a parameter that does not allow it makes the result an
//!    unknown of dynamic type;
//! 4. marks on arguments of parameters that do not allow marks move to the result;
//! 5. an unknown argument for a parameter that does not allow it makes the result an unknown
//!    of the return type (refined not-null where the function says so).

mod collection;
mod conversion;
mod crypto;
mod encoding;
mod filesystem;
mod google;
mod network;
mod numeric;
mod operators;
mod string;

use super::convert::convert;
use super::eval::{EvalError, EvalResult};
use super::types::Type;
use super::value::{Value, V};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

#[derive(Clone, Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Type,
    pub allow_null: bool,
    pub allow_unknown: bool,
    pub allow_dynamic: bool,
    pub allow_marked: bool,
}

/// A parameter with nothing allowed beyond known, non-null, unmarked values.
pub fn p(name: &'static str, ty: Type) -> Param {
    Param {
        name,
        ty,
        allow_null: false,
        allow_unknown: false,
        allow_dynamic: false,
        allow_marked: false,
    }
}

impl Param {
    pub fn null(mut self) -> Param {
        self.allow_null = true;
        self
    }
    pub fn unknown(mut self) -> Param {
        self.allow_unknown = true;
        self
    }
    pub fn dynamic(mut self) -> Param {
        self.allow_dynamic = true;
        self
    }
    pub fn marked(mut self) -> Param {
        self.allow_marked = true;
        self
    }
}

/// An error from a function: about one argument (`arg`), or about the call.
#[derive(Debug, Clone)]
pub struct FuncError {
    pub arg: Option<usize>,
    pub msg: String,
}

pub fn err(msg: impl Into<String>) -> FuncError {
    FuncError {
        arg: None,
        msg: msg.into(),
    }
}

pub fn arg_err(i: usize, msg: impl Into<String>) -> FuncError {
    FuncError {
        arg: Some(i),
        msg: msg.into(),
    }
}

pub type FResult = Result<Value, FuncError>;

/// What a call can see beyond its arguments.
pub struct Ctx<'a> {
    /// The module directory relative file paths start from.
    pub base_dir: &'a Path,
}

pub enum Ret {
    Static(Type),
    /// The return type from the (unmarked) argument values.
    Dynamic(fn(&[Value]) -> Result<Type, FuncError>),
}

/// How a function refines an unknown result.
#[derive(Clone, Copy)]
pub enum Refine {
    None,
    NotNull,
    Custom(fn(Value) -> Value),
}

pub type Impl = fn(&[Value], &Type, &Ctx) -> FResult;

pub struct Func {
    pub name: &'static str,
    pub params: Vec<Param>,
    pub var_param: Option<Param>,
    pub ret: Ret,
    pub imp: Impl,
    pub refine: Refine,
}

impl Func {
    pub fn new(name: &'static str, params: Vec<Param>, ret: Ret, imp: Impl) -> Func {
        Func {
            name,
            params,
            var_param: None,
            ret,
            imp,
            refine: Refine::NotNull,
        }
    }
    pub fn var(mut self, p: Param) -> Func {
        self.var_param = Some(p);
        self
    }
    pub fn no_refine(mut self) -> Func {
        self.refine = Refine::None;
        self
    }
    pub fn refine_with(mut self, f: fn(Value) -> Value) -> Func {
        self.refine = Refine::Custom(f);
        self
    }
    fn param(&self, i: usize) -> Option<&Param> {
        self.params.get(i).or(self.var_param.as_ref())
    }
}

pub fn stat(t: Type) -> Ret {
    Ret::Static(t)
}

#[derive(Default)]
pub struct Registry(BTreeMap<&'static str, Func>);

impl Registry {
    pub fn add(&mut self, f: Func) {
        self.0.insert(f.name, f);
    }
}

static FUNCS: LazyLock<Registry> = LazyLock::new(|| {
    let mut r = Registry::default();
    string::register(&mut r);
    collection::register(&mut r);
    numeric::register(&mut r);
    encoding::register(&mut r);
    conversion::register(&mut r);
    crypto::register(&mut r);
    filesystem::register(&mut r);
    network::register(&mut r);
    google::register(&mut r);
    r
});

static OPS: LazyLock<Registry> = LazyLock::new(|| {
    let mut r = Registry::default();
    operators::register(&mut r);
    r
});

/// Terraform functions runform deliberately does not offer, and why.
pub fn unsupported(name: &str) -> Option<&'static str> {
    Some(match name {
        "uuid" | "timestamp" | "bcrypt" | "plantimestamp" => {
            "its result differs on every run, so a plan containing it never settles (Terraform shows it as a change on every plan); use random_uuid-style resources (random_id), time-stamped values passed with --var, or terraform_data with a fixed input"
        }
        "formatdate" | "timeadd" | "timecmp" | "rsadecrypt" | "templatestring" => {
            "Terraform has it, runform does not implement it yet"
        }
        _ => return None,
    })
}

pub fn lookup(name: &str) -> Option<&'static Func> {
    FUNCS.0.get(name)
}

/// The names of every function (for "did you mean" and `providers schema -json`).
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCS.0.keys().copied()
}

/// Calls an operator (`add`, `equal`, `and`...) on converted operands.
pub fn call_op(name: &str, args: Vec<Value>) -> EvalResult {
    let Some(f) = OPS.0.get(name) else {
        return Err(EvalError::new(
            "Operation failed",
            format!("no operator {name}"),
        ));
    };
    dispatch(
        f,
        args,
        &Ctx {
            base_dir: Path::new("."),
        },
    )
    .map_err(|e| {
        EvalError::new(
            "Operation failed",
            format!("Error during operation: {}.", e.msg),
        )
    })
}

/// Calls a function with HCL's argument conversion and go-cty's dispatch rules.
pub fn call_with_ctx(f: &Func, args: Vec<Value>, base_dir: &Path) -> EvalResult {
    let n = f.params.len();
    if args.len() < n {
        let qual = if f.var_param.is_some() {
            " at least"
        } else {
            ""
        };
        return Err(EvalError::new(
            "Not enough function arguments",
            format!(
                "Function {:?} expects{qual} {n} argument(s). Missing value for {:?}.",
                f.name,
                f.params[args.len()].name
            ),
        ));
    }
    if f.var_param.is_none() && args.len() > n {
        return Err(EvalError::new(
            "Too many function arguments",
            format!("Function {:?} expects only {n} argument(s).", f.name),
        ));
    }
    let mut converted = Vec::with_capacity(args.len());
    for (i, a) in args.into_iter().enumerate() {
        let Some(param) = f.param(i) else { break };
        match convert(&a, &param.ty) {
            Ok(v) => converted.push(v),
            Err(e) => {
                return Err(EvalError::new(
                    "Invalid function argument",
                    format!("Invalid value for {:?} parameter: {e}.", param.name),
                ))
            }
        }
    }
    let sensitive_text = sensitive_strings(&converted);
    dispatch(f, converted, &Ctx { base_dir }).map_err(|e| {
        let msg = redact(&e.msg, &sensitive_text);
        match e.arg.and_then(|i| f.param(i)) {
            Some(param) => EvalError::new(
                "Invalid function argument",
                format!("Invalid value for {:?} parameter: {msg}.", param.name),
            ),
            None => EvalError::new(
                "Error in function call",
                format!("Call to function {:?} failed: {msg}.", f.name),
            ),
        }
    })
}

/// go-cty's `Function.Call` on already-converted arguments.
fn dispatch(f: &Func, mut args: Vec<Value>, ctx: &Ctx) -> FResult {
    // Null and dynamic checks, and the return type (from unmarked arguments).
    let mut dynamic = false;
    for (i, a) in args.iter().enumerate() {
        let Some(param) = f.param(i) else { break };
        if a.is_null() && !param.allow_null {
            return Err(arg_err(i, "argument must not be null"));
        }
        if a.ty() == Type::Dynamic && !param.allow_dynamic {
            dynamic = true;
            break;
        }
    }
    let mut marked = false;
    let mut unknown = false;
    for (i, a) in args.iter_mut().enumerate() {
        let Some(param) = f.param(i) else { break };
        if !param.allow_marked {
            let (v, m) = std::mem::replace(a, Value::null_dynamic()).unmark_deep();
            *a = v;
            marked |= m;
        }
        if !a.is_known() && !param.allow_unknown {
            unknown = true;
        }
    }
    if dynamic {
        return Ok(Value::dynamic().mark(marked));
    }
    let ret = match &f.ret {
        Ret::Static(t) => t.clone(),
        Ret::Dynamic(tf) => {
            let unmarked: Vec<Value> = args.iter().map(|a| a.clone().unmark_deep().0).collect();
            tf(&unmarked)?
        }
    };
    let refine = |v: Value| -> Value {
        if v.is_known() || v.ty() != Type::Dynamic {
            match f.refine {
                Refine::None => v,
                Refine::NotNull => v.refine_not_null(),
                Refine::Custom(g) => g(v),
            }
        } else {
            v
        }
    };
    if unknown {
        return Ok(refine(Value::unknown(ret)).mark(marked));
    }
    let out = (f.imp)(&args, &ret, ctx)?;
    Ok(refine(out).mark(marked))
}

/// Every string inside sensitive arguments (so error messages can leave them out).
fn sensitive_strings(args: &[Value]) -> Vec<String> {
    fn walk(v: &Value, under: bool, out: &mut Vec<String>) {
        let here = under || v.sensitive;
        match &v.v {
            V::String(s) if here && !s.is_empty() => out.push(s.clone()),
            V::Number(n) if here => out.push(n.to_text()),
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
                xs.iter().for_each(|x| walk(x, here, out))
            }
            V::Map(_, m) | V::Object(m) => m.values().for_each(|x| walk(x, here, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for a in args {
        walk(a, false, &mut out);
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn redact(msg: &str, secrets: &[String]) -> String {
    let mut m = msg.to_string();
    for s in secrets {
        m = m.replace(s.as_str(), "(sensitive value)");
    }
    m
}

// Helpers shared by the function families.

/// A string argument (already converted and non-null).
pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A whole-number argument, as gocty reads one into an `int`.
pub fn int(v: &Value, i: usize) -> Result<i64, FuncError> {
    let n = v
        .as_number()
        .ok_or_else(|| arg_err(i, "a number is required"))?;
    if !n.is_int() {
        return Err(arg_err(i, "value must be a whole number"));
    }
    n.to_i64().ok_or_else(|| {
        arg_err(
            i,
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807",
        )
    })
}

pub fn string_list(items: Vec<String>) -> Value {
    Value::list(Type::String, items.into_iter().map(Value::string).collect())
}

/// The elements of a list, set or tuple argument.
pub fn elems(v: &Value) -> &[Value] {
    v.elements().unwrap_or_default()
}

/// Registers a function whose one string parameter maps to a string.
pub fn str_fn(r: &mut Registry, name: &'static str, pname: &'static str, imp: Impl) {
    r.add(Func::new(
        name,
        vec![p(pname, Type::String)],
        stat(Type::String),
        imp,
    ));
}
